import ArgumentParser
import GranaryCore
import GranaryErasure
import GranaryFUSE
import GranaryTransport

/// `granary doctor`: what this host offers Granary — CRC32C, erasure-coding backends, FUSE, RDMA —
/// read from the native libraries themselves.
struct Doctor: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Check the native libraries and devices this host offers.")

    @Flag(help: "Print JSON.") var json = false

    struct Report: Codable {
        var crc32cCheck: Bool
        var erasureCodeVersion: String
        var erasureBackends: [String]
        var fuseVersion: String
        var fuseDevice: Bool
        var rdmaDevices: [String]
        var rdmaProblem: String?
        var transport: String
    }

    func run() async throws {
        let rdma = RDMADevices.list()
        var report = Report(crc32cCheck: CRC32C.checksum("123456789") == 0xE306_9283, erasureCodeVersion: ErasureBackend.libraryVersion,
                            erasureBackends: ErasureBackend.available.map(\.rawValue), fuseVersion: FUSELibrary.version,
                            fuseDevice: FUSELibrary.deviceUsable, rdmaDevices: [], rdmaProblem: nil, transport: "tcp")
        switch rdma {
        case let .success(d): report.rdmaDevices = d
        case let .failure(e): report.rdmaProblem = e.description
        }
        if json {
            print(Output.json(report))
            return
        }
        print("CRC32C (ISA-L):       \(report.crc32cCheck ? "ok" : "WRONG RESULT")")
        print("liberasurecode:       \(report.erasureCodeVersion), backends: \(report.erasureBackends.joined(separator: ", "))")
        print("FUSE:                 libfuse \(report.fuseVersion), /dev/fuse \(report.fuseDevice ? "usable" : "not usable")")
        print("RDMA:                 \(report.rdmaDevices.isEmpty ? report.rdmaProblem ?? "none" : report.rdmaDevices.joined(separator: ", "))")
    }
}
