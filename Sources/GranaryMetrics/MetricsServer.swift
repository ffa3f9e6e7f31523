#if canImport(Glibc)
import Glibc
#endif
import Foundation
import GranaryCore
import GranaryTransport
import Logging
import Prometheus
import Synchronization

/// Serves a Prometheus registry over HTTP: `GET /metrics` answers the text exposition format;
/// anything else gets a plain error status.
///
/// Guarantees: a request is read for at most 5 s and 8 KiB (slow or oversized requests are
/// answered `408`/`431` and closed), at most 16 scrapes are served at once (more get `503`), and no
/// request, however malformed, stops the server or the process. Each connection carries one
/// request (`Connection: close`), which is all Prometheus needs.
public final class MetricsServer: Sendable {
    /// Where it listens (the port resolved when 0 was asked for).
    public let endpoint: Endpoint
    let registry: PrometheusCollectorRegistry
    let listener: Socket
    let logger: Logger
    private let active = Atomic<Int>(0)
    private let stopped = Atomic<Bool>(false)

    static let maxRequestBytes = 8 << 10
    static let maxConcurrent = 16

    public init(listen: Endpoint, registry: PrometheusCollectorRegistry, logger: Logger) throws(TransportError) {
        let socket = try Socket.listen(listen)
        listener = socket
        self.registry = registry
        self.logger = logger
        var port = listen.port
        if port == 0 {
            var ss = sockaddr_storage()
            var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let ok = withUnsafeMutablePointer(to: &ss) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket.fd, $0, &len) == 0 }
            }
            if ok {
                port = ss.ss_family == sa_family_t(AF_INET6)
                    ? withUnsafePointer(to: &ss) { $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin6_port) } }
                    : withUnsafePointer(to: &ss) { $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin_port) } }
            }
        }
        endpoint = Endpoint(host: listen.host, port: port)
    }

    /// Starts accepting on a thread of its own.
    public func start() {
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "granary-metrics"
        thread.start()
    }

    public func stop() {
        stopped.store(true, ordering: .relaxed)
        listener.shutdown()
    }

    private func acceptLoop() {
        while !stopped.load(ordering: .relaxed) {
            guard let (conn, _) = listener.accept() else {
                if stopped.load(ordering: .relaxed) { return }
                continue
            }
            guard active.wrappingAdd(1, ordering: .relaxed).newValue <= Self.maxConcurrent else {
                active.wrappingSubtract(1, ordering: .relaxed)
                Self.respond(conn, status: "503 Service Unavailable", body: Array("too many scrapes at once\n".utf8))
                conn.shutdown()
                continue
            }
            let thread = Thread { [self] in
                defer { active.wrappingSubtract(1, ordering: .relaxed) }
                serve(conn)
                conn.shutdown()
            }
            thread.start()
        }
    }

    /// Reads one request and answers it.
    func serve(_ conn: Socket) {
        conn.setReceiveTimeout(ms: 5_000)
        conn.setSendTimeout(ms: 5_000)
        var request: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 2048)
        while Self.headerEnd(request) == nil {
            guard request.count < Self.maxRequestBytes else {
                Self.respond(conn, status: "431 Request Header Fields Too Large", body: Array("request over 8 KiB\n".utf8))
                return
            }
            let n = chunk.withUnsafeMutableBytes { recv(conn.fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 {
                // A client gone, or one that sent nothing in time.
                if n < 0, errno == EAGAIN || errno == EWOULDBLOCK {
                    Self.respond(conn, status: "408 Request Timeout", body: Array("no complete request within 5 s\n".utf8))
                }
                return
            }
            request += chunk[..<n]
        }
        let (status, body) = Self.answer(request, registry: registry)
        Self.respond(conn, status: status, body: body)
    }

    /// The status and body for a request's bytes (the request line decides).
    static func answer(_ request: [UInt8], registry: PrometheusCollectorRegistry) -> (String, [UInt8]) {
        guard let lineEnd = request.firstIndex(of: UInt8(ascii: "\r")),
              let line = String(validating: request[..<lineEnd], as: UTF8.self) else {
            return ("400 Bad Request", Array("malformed request line\n".utf8))
        }
        let parts = line.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[2].hasPrefix("HTTP/1.") else {
            return ("400 Bad Request", Array("malformed request line\n".utf8))
        }
        let path = parts[1].split(separator: "?", maxSplits: 1).first.map(String.init) ?? ""
        guard path == "/metrics" else { return ("404 Not Found", Array("only /metrics is served here\n".utf8)) }
        guard parts[0] == "GET" || parts[0] == "HEAD" else { return ("405 Method Not Allowed", Array("GET /metrics\n".utf8)) }
        return ("200 OK", registry.emitToBuffer())
    }

    static func headerEnd(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for i in 0...(bytes.count - 4) where bytes[i] == 13 && bytes[i + 1] == 10 && bytes[i + 2] == 13 && bytes[i + 3] == 10 {
            return i
        }
        return nil
    }

    static func respond(_ conn: Socket, status: String, body: [UInt8]) {
        let type = status.hasPrefix("200") ? "text/plain; version=0.0.4; charset=utf-8" : "text/plain; charset=utf-8"
        let head = Array("HTTP/1.1 \(status)\r\nContent-Type: \(type)\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n".utf8)
        head.withUnsafeBytes { h in
            body.withUnsafeBytes { b in _ = conn.send([h, b]) }
        }
    }
}
