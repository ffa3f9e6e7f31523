import Foundation
import GranaryCore
import GranaryTransport
import GranaryTransportConformance
import GranaryWire
import Logging

/// Misbehaving peers against an RDMA server: each is disconnected with the reason logged, and the
/// server keeps serving everyone else.
struct BadPeers {
    let address: String
    let logger: Logger

    func run() async -> Bool {
        var ok = true
        do {
            let server = try RDMAServer(listen: Endpoint(host: address, port: 0), secret: TransportConformance.secret, handler: ConformanceHandler(), logger: logger)
            server.start()
            defer { server.stop() }
            let good = try RDMATransport(secret: TransportConformance.secret, logger: logger)
            defer { good.closeAll() }
            try check(try await good.call(server.endpoint, .ping, [1]) == [1], "first ping")

            for (name, bytes) in [("unknown control message kind", [UInt8](repeating: 9, count: 8)),
                                  ("truncated frame", [1, 0, 0, 0, 0, 0, 0, 0, 0x47, 0x52]),
                                  ("frame longer than it says", [1, 0, 0, 0, 0, 0, 0, 0] + FrameHeader(type: .ping, requestID: 1, payloadLength: 2).encoded + [1, 2, 3])] {
                let bad = try RDMATransport(secret: TransportConformance.secret, logger: logger)
                let c = try await bad.connection(to: server.endpoint)
                guard let rc = c as? RDMAConnection else { throw CheckFailure(description: "not an RDMA connection") }
                let errorsBefore = server.stats.protocolErrors
                rc._sendRawControlMessage(bytes)
                var closed = false
                for _ in 0..<100 where !closed {
                    try await Task.sleep(for: .milliseconds(50))
                    closed = !rc.isOpen
                }
                do {
                    try check(closed, "the server kept a connection that sent a \(name)")
                    try check(server.stats.protocolErrors == errorsBefore + 1, "protocol errors \(server.stats.protocolErrors)")
                    try check(try await good.call(server.endpoint, .ping, [2]) == [2], "the other connection stopped working")
                    print("PASS [bad-peers] \(name): disconnected, others still served")
                } catch {
                    print("FAIL [bad-peers] \(name): \(error)")
                    ok = false
                }
                bad.closeAll()
            }
        } catch {
            print("FAIL [bad-peers] setup: \(error)")
            return false
        }
        return ok
    }
}
