import Foundation
import Logging
import GranaryBuffers
import GranaryCore
import GranaryTransport
import GranaryWire

/// How to make a server and a client of one transport, for the conformance checks.
public struct ConformanceHarness: Sendable {
    public let name: String
    /// The address servers listen on (for RDMA: an address of an RDMA-capable interface).
    public let host: String
    public let makeServer: @Sendable (_ port: UInt16, _ secret: ClusterSecret, _ handler: any RequestHandler) throws -> any TransportServer
    public let makeTransport: @Sendable (_ secret: ClusterSecret) throws -> any Transport
    /// Registrars for client read buffers and server answer buffers (RDMA: its registrar).
    public let registrars: [any ArenaRegistrar]

    public init(name: String, host: String,
                makeServer: @escaping @Sendable (UInt16, ClusterSecret, any RequestHandler) throws -> any TransportServer,
                makeTransport: @escaping @Sendable (ClusterSecret) throws -> any Transport,
                registrars: [any ArenaRegistrar] = []) {
        self.name = name
        self.host = host
        self.makeServer = makeServer
        self.makeTransport = makeTransport
        self.registrars = registrars
    }

    /// TCP on loopback.
    public static func tcp(logger: Logger) -> ConformanceHarness {
        ConformanceHarness(name: "tcp", host: "127.0.0.1",
                           makeServer: { port, secret, handler in
                               try TCPServer(listen: Endpoint(host: "127.0.0.1", port: port), secret: secret, handler: handler, logger: logger)
                           },
                           makeTransport: { secret in TCPTransport(secret: secret, logger: logger) })
    }

    /// TCP on loopback inside TLS: the server with `server`, every client with `client`.
    public static func tls(server: TLSSettings, client: TLSSettings, logger: Logger) -> ConformanceHarness {
        var serverSide = TransportSettings()
        serverSide.tls = server
        var clientSide = TransportSettings()
        clientSide.tls = client
        let (serverSettings, clientSettings) = (serverSide, clientSide)
        return ConformanceHarness(name: "tls", host: "127.0.0.1",
                                  makeServer: { port, secret, handler in
                                      try TCPServer(listen: Endpoint(host: "127.0.0.1", port: port), secret: secret, settings: serverSettings,
                                                    handler: handler, logger: logger)
                                  },
                                  makeTransport: { secret in try Transports.client(secret: secret, settings: clientSettings, logger: logger) })
    }

    /// RDMA on `host` (fails with `rdmaUnavailable` on a host without RDMA).
    public static func rdma(host: String, logger: Logger) throws(TransportError) -> ConformanceHarness {
        let registrar = try RDMARegistrar.load().get()
        return ConformanceHarness(name: "rdma", host: host,
                                  makeServer: { port, secret, handler in
                                      try RDMAServer(listen: Endpoint(host: host, port: port), secret: secret, handler: handler, logger: logger)
                                  },
                                  makeTransport: { secret in try RDMATransport(secret: secret, logger: logger) },
                                  registrars: [registrar])
    }

    func server(port: UInt16 = 0, secret: ClusterSecret = TransportConformance.secret) throws -> any TransportServer {
        let s = try makeServer(port, secret, ConformanceHandler(buffers: BufferPool(registrars: registrars)))
        s.start()
        return s
    }
}

/// A conformance check that did not hold, and what was seen instead.
public struct ConformanceFailure: Error, CustomStringConvertible {
    public let description: String
}

/// The behaviour every transport must show — TCP and RDMA run the same checks (the unit tests run
/// them over TCP; `granary-rdma-check` runs them over soft-RoCE in the test VM).
public enum TransportConformance {
    public static let secret = ClusterSecret(bytes: Array(repeating: 7, count: 32))

    public typealias Check = @Sendable (ConformanceHarness) async throws -> Void

    public static let checks: [(name: String, run: Check)] = [
        ("ping round-trips and the connection is reused", pingAndReuse),
        ("a wrong secret is refused and nothing is served", wrongSecret),
        ("many requests in flight are answered out of order", manyInFlight),
        ("reads land in the caller's buffer; a wrong size is an error", readsLandInBuffer),
        ("reads into registered pool buffers copy nothing", readsIntoPoolCopyNothing),
        ("large request and answer bodies arrive intact", largeBodies),
        ("remote errors carry code and message", remoteErrors),
        ("a timeout fails the call, not the transport", timeouts),
        ("the transport reconnects after the server restarts", reconnects),
        ("connecting to a port nobody listens on fails naming the peer", refused),
    ]

    static func expect(_ condition: Bool, _ message: @autoclosure () -> String) throws {
        if !condition { throw ConformanceFailure(description: message()) }
    }

    static func expectError<T>(_ what: String, _ body: () async throws -> T, _ matches: (TransportError) -> Bool) async throws {
        do {
            _ = try await body()
        } catch let e as TransportError {
            try expect(matches(e), "\(what): unexpected error \(e)")
            return
        }
        throw ConformanceFailure(description: "\(what): succeeded, expected an error")
    }

    static func pingAndReuse(_ h: ConformanceHarness) async throws {
        let server = try h.server()
        defer { server.stop() }
        let t = try h.makeTransport(secret)
        defer { t.closeAll() }
        try expect(try await t.call(server.endpoint, .ping, [1, 2, 3]) == [1, 2, 3], "ping echo")
        let c1 = try await t.connection(to: server.endpoint)
        let c2 = try await t.connection(to: server.endpoint)
        try expect(c1 === c2, "connection not reused")
        try expect(server.stats.accepted == 1 && server.stats.authenticated == 1, "stats \(server.stats)")
    }

    static func wrongSecret(_ h: ConformanceHarness) async throws {
        let server = try h.server()
        defer { server.stop() }
        let t = try h.makeTransport(ClusterSecret(bytes: Array(repeating: 9, count: 32)))
        defer { t.closeAll() }
        try await expectError("wrong secret", { try await t.call(server.endpoint, .ping, [1]) }) { e in
            guard case let .authenticationFailed(_, reason) = e else { return false }
            return reason.contains("wrong cluster secret")
        }
        try expect(server.stats.authFailures == 1 && server.stats.requests == 0, "stats \(server.stats)")
    }

    static func manyInFlight(_ h: ConformanceHarness) async throws {
        let server = try h.server()
        defer { server.stop() }
        let t = try h.makeTransport(secret)
        defer { t.closeAll() }
        let c = try await t.connection(to: server.endpoint)
        // One slow request first, then more fast ones than any receive queue is deep; the slow one
        // takes long enough that 150 fast ones finish first even on a loaded 2-core machine.
        let delays = [2000] + Array(repeating: 1, count: 150)
        let order = try await withThrowingTaskGroup(of: String.self) { group in
            for (i, ms) in delays.enumerated() {
                let name = "d\(ms)x\(i)"
                group.addTask {
                    let body = try await c.call(.getChunk, ChunkRequest(drive: name, key: ChunkKey(stripe: 1, fragment: 0)).encoded, timeoutMs: nil)
                    try expect(body == Array(name.utf8), "answer for \(name) was \(body.count) bytes of something else")
                    return name
                }
            }
            var order: [String] = []
            for try await name in group { order.append(name) }
            return order
        }
        try expect(order.count == delays.count, "\(order.count) answers")
        try expect(order.last == "d2000x0", "the slow request was not answered last")
        try expect(server.stats.accepted == 1, "more than one connection: \(server.stats)")
    }

    static func readsLandInBuffer(_ h: ConformanceHarness) async throws {
        let server = try h.server()
        defer { server.stop() }
        let t = try h.makeTransport(secret)
        defer { t.closeAll() }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 4096)
        defer { buffer.deallocate() }
        let req = ReadChunkRequest(drive: "d0", key: ChunkKey(stripe: 2, fragment: 1), offset: 5, length: UInt32(1 << 20)).encoded
        let head = try await t.read(server.endpoint, .readChunk, req, into: buffer)
        try expect(head == Array("5".utf8), "head \(head)")
        try expect(Array(buffer) == ConformanceHandler.pattern(offset: 5, count: 1 << 20), "data differs")
        let small = UnsafeMutableRawBufferPointer.allocate(byteCount: 10, alignment: 8)
        defer { small.deallocate() }
        try await expectError("short buffer", { try await t.read(server.endpoint, .readChunk, req, into: small) }) {
            $0 == .unexpectedLength(server.endpoint, expected: 10, got: 1 << 20)
        }
        try expect(try await t.call(server.endpoint, .ping, [9]) == [9], "connection unusable after a length mismatch")
        // A read answered with a plain body is a protocol error.
        try await expectError("plain answer to a read", { try await t.read(server.endpoint, .ping, [1], into: small) }) {
            if case .protocolError = $0 { return true }
            return false
        }
    }

    static func readsIntoPoolCopyNothing(_ h: ConformanceHarness) async throws {
        let server = try h.server()
        defer { server.stop() }
        let t = try h.makeTransport(secret)
        defer { t.closeAll() }
        let pool = try IOBufferPool(.init(arenaBytes: 16 << 20, limitBytes: 64 << 20, lockMemory: false), registrars: h.registrars, logger: Logger(label: "conformance"))
        let before = t.readCounters
        let sizes = [4096, 1 << 20, 4 << 20, 12_345]
        for (i, size) in sizes.enumerated() {
            let b = try await pool.take(size)
            let req = ReadChunkRequest(drive: "d0", key: ChunkKey(stripe: UInt64(i), fragment: 0), offset: UInt64(i * 7), length: UInt32(size)).encoded
            _ = try await t.read(server.endpoint, .readChunk, req, into: b.bytes)
            try expect(Array(b.bytes) == ConformanceHandler.pattern(offset: i * 7, count: size), "pool read of \(size) bytes differs")
        }
        let after = t.readCounters
        try expect(after.copiedBytes == before.copiedBytes, "\(after.copiedBytes - before.copiedBytes) bytes copied into pool buffers")
        try expect(after.directBytes - before.directBytes == sizes.reduce(0, +), "\(after.directBytes - before.directBytes) bytes landed directly, expected \(sizes.reduce(0, +))")
    }

    static func largeBodies(_ h: ConformanceHarness) async throws {
        let server = try h.server()
        defer { server.stop() }
        let t = try h.makeTransport(secret)
        defer { t.closeAll() }
        let c = try await t.connection(to: server.endpoint)
        let big = (0..<(3 << 20) + 17).map { UInt8(truncatingIfNeeded: $0 &* 13) }
        try expect(try await c.call(.ping, big, timeoutMs: nil) == big, "3 MiB echo differs")
        let data = (0..<(2 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 1) }
        let head: [UInt8] = [1, 2, 3]
        let raw = UnsafeMutableRawBufferPointer.allocate(byteCount: data.count, alignment: 4096)
        defer { raw.deallocate() }
        raw.copyBytes(from: data)
        let answer = try await c.call(.putChunk, head: head, data: UnsafeRawBufferPointer(raw), timeoutMs: nil)
        let crc = answer.prefix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        let length = answer.dropFirst(4).prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        try expect(crc == CRC32C.checksum(head + data) && length == UInt64(head.count + data.count), "put of 2 MiB arrived as \(length) bytes, crc \(crc)")
    }

    static func remoteErrors(_ h: ConformanceHarness) async throws {
        let server = try h.server()
        defer { server.stop() }
        let t = try h.makeTransport(secret)
        defer { t.closeAll() }
        try await expectError("delete", { try await t.call(server.endpoint, .deleteChunk, ChunkRequest(drive: "d", key: ChunkKey(stripe: 0, fragment: 0)).encoded) }) {
            $0 == .remote(server.endpoint, RemoteError(.notFound, "no such thing as delete-chunk"))
        }
    }

    static func timeouts(_ h: ConformanceHarness) async throws {
        let server = try h.server()
        defer { server.stop() }
        let t = try h.makeTransport(secret)
        defer { t.closeAll() }
        let c = try await t.connection(to: server.endpoint)
        try await expectError("slow call", { try await c.call(.getChunk, ChunkRequest(drive: "d300", key: ChunkKey(stripe: 0, fragment: 0)).encoded, timeoutMs: 50) }) {
            $0 == .timeout(server.endpoint, .getChunk, ms: 50)
        }
        try expect(try await t.call(server.endpoint, .ping, [4]) == [4], "ping after a timeout")
        try await Task.sleep(for: .milliseconds(400))  // the late answer arrives and is dropped
        try expect(try await t.call(server.endpoint, .ping, [5]) == [5], "ping after the late answer")
    }

    static func reconnects(_ h: ConformanceHarness) async throws {
        let first = try h.server()
        let endpoint = first.endpoint
        let t = try h.makeTransport(secret)
        defer { t.closeAll() }
        try expect(try await t.call(endpoint, .ping, [1]) == [1], "first ping")
        first.stop()
        try await Task.sleep(for: .milliseconds(200))
        let second = try h.server(port: endpoint.port)
        defer { second.stop() }
        try expect(try await t.call(endpoint, .ping, [2]) == [2], "ping after the restart")
        try expect(second.stats.authenticated == 1, "stats \(second.stats)")
    }

    static func refused(_ h: ConformanceHarness) async throws {
        let s = try h.server()
        let endpoint = s.endpoint
        s.stop()
        try await Task.sleep(for: .milliseconds(200))
        let t = try h.makeTransport(secret)
        defer { t.closeAll() }
        try await expectError("closed port", { try await t.call(endpoint, .ping, []) }) { e in
            switch e {
            case let .connectFailed(peer, _), let .connectTimeout(peer, _): return peer == endpoint
            default: return false
            }
        }
    }

    /// Runs every check (or those whose name contains `filter`), printing one PASS/FAIL line each.
    /// Returns the names of the checks that failed.
    public static func run(_ h: ConformanceHarness, filter: String? = nil) async -> [String] {
        var failed: [String] = []
        for (name, check) in checks where filter.map({ name.contains($0) }) ?? true {
            let start = Date()
            do {
                try await check(h)
                print("PASS [\(h.name)] \(name) (\(Int(Date().timeIntervalSince(start) * 1000)) ms)")
            } catch {
                print("FAIL [\(h.name)] \(name): \(error)")
                failed.append(name)
            }
        }
        return failed
    }
}
