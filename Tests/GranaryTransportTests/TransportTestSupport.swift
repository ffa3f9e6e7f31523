import GranaryCore
import GranaryTransport
import GranaryTransportConformance
import GranaryWire
import Logging
import Synchronization

/// The transport tests' handler is the conformance suite's (see `ConformanceHandler`).
typealias EchoHandler = ConformanceHandler

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
