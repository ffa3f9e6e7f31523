import GranaryCore
import GranaryTransport
import GranaryWire
import Logging
import Synchronization

/// A real handler for transport tests: ping echoes its body; read-chunk answers with `length`
/// bytes of a known pattern (head: the offset in decimal); get-chunk sleeps the number of milliseconds in the drive name's
/// digits before answering (to test timeouts and out-of-order responses); delete-chunk fails.
struct EchoHandler: RequestHandler {
    func handle(_ request: Request) async -> Response {
        switch request.type {
        case .ping:
            return .ok(request.body)
        case .readChunk:
            guard let r = try? ReadChunkRequest.decode(request.body) else { return .error(RemoteError(.badRequest, "bad read")) }
            // The head is the request's offset, so tests can see it come back beside the data.
            return .data(head: Array(String(r.offset).utf8), .bytes(Self.pattern(offset: Int(r.offset), count: Int(r.length))))
        case .getChunk:
            guard let r = try? ChunkRequest.decode(request.body, type: .getChunk) else { return .error(RemoteError(.badRequest, "bad get")) }
            let ms = Int(r.drive.filter(\.isNumber)) ?? 0
            try? await Task.sleep(for: .milliseconds(ms))
            return .ok(Array(r.drive.utf8))
        default:
            return .error(RemoteError(.notFound, "no such thing as \(request.type)"))
        }
    }

    static func pattern(offset: Int, count: Int) -> [UInt8] { (0..<count).map { UInt8(truncatingIfNeeded: (offset + $0) &* 31 &+ 7) } }
}

enum TestCluster {
    static let secret = ClusterSecret(bytes: Array(repeating: 7, count: 32))
    static var logger: Logger {
        var l = Logger(label: "test")
        l.logLevel = .critical
        return l
    }

    static func server(settings: TransportSettings = .init()) throws -> TCPServer {
        let s = try TCPServer(listen: Endpoint(host: "127.0.0.1", port: 0), secret: secret, settings: settings, handler: EchoHandler(), logger: logger)
        s.start()
        return s
    }
}
