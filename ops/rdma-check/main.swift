// granary-rdma-check: what ops/rdma-vm-test runs in the soft-RoCE guest (see ops/rdma-vm/README.md).
//
//   granary-rdma-check conformance --address IP    the transport conformance checks, RDMA and TCP
//   granary-rdma-check storage --address IP        a storage node over RDMA (child process): writes,
//                                                  byte-for-byte reads into pool buffers, the node
//                                                  killed mid-read and restarted, reads again
//   granary-rdma-check bad-peers --address IP      a malformed control message; a non-Granary hello
//   granary-rdma-check loader --address IP         a manager and 3 storage nodes over RDMA (in this
//                                                  process); the loader streams a dataset into a
//                                                  registered pool, byte for byte, copying nothing
//   granary-rdma-check bench --address IP [--json] reads into pool buffers, RDMA against TCP
//   granary-rdma-check serve-storage --address IP --port P --dir D   (the child of `storage`)
//
// Exits 0 when every check passed; prints one PASS/FAIL line per check.
import Foundation
import GranaryBuffers
import GranaryCore
import GranaryStorage
import GranaryTransport
import GranaryTransportConformance
import GranaryWire
import Logging
import Synchronization

var logger = Logger(label: "granary-rdma-check")
logger.logLevel = ProcessInfo.processInfo.environment["GRANARY_LOG"].flatMap { Logger.Level(rawValue: $0) } ?? .error

let args = Array(CommandLine.arguments.dropFirst())
func option(_ name: String) -> String? {
    guard let i = args.firstIndex(of: name), i + 1 < args.count else { return nil }
    return args[i + 1]
}
guard let command = args.first else {
    print("usage: granary-rdma-check conformance|storage|bad-peers|loader|bench|serve-storage --address IP")
    exit(2)
}
let address = option("--address") ?? "10.77.0.1"
let secret = TransportConformance.secret

struct CheckFailure: Error, CustomStringConvertible { let description: String }
func check(_ condition: Bool, _ message: @autoclosure () -> String) throws {
    if !condition { throw CheckFailure(description: message()) }
}

let status: Int32
switch command {
case "conformance":
    let rdma = await RDMAChecks.conformance(address: address)
    status = rdma ? 0 : 1
case "storage":
    status = await StorageDrill(address: address, logger: logger).run() ? 0 : 1
case "bad-peers":
    status = await BadPeers(address: address, logger: logger).run() ? 0 : 1
case "loader":
    status = await LoaderDrill(address: address, logger: logger).run() ? 0 : 1
case "bench":
    status = await TransportBench(address: address, logger: logger).run(json: args.contains("--json")) ? 0 : 1
case "serve-storage":
    status = StorageServer.serve(address: address, port: UInt16(option("--port") ?? "0") ?? 0, dir: option("--dir") ?? "/tmp/granary-rdma-node", logger: logger)
default:
    print("unknown command \(command)")
    status = 2
}
exit(status)

/// A counter and a flag shared by the tasks of a check.
final class Counter: Sendable {
    let value = Atomic<Int>(0)
}

final class Flag: Sendable {
    let value = Atomic<Bool>(false)
}
