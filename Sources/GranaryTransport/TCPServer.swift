import Foundation
import GranaryCore
import GranaryWire
import Logging
import Synchronization

/// A TCP listener serving authenticated Granary connections.
///
/// Guarantees: nothing reaches the handler before the peer proved the cluster secret; a peer that
/// fails authentication, or sends a bad frame (oversized, truncated, unknown type or version, a
/// response where a request belongs), is disconnected with the reason logged, and every other
/// connection is unaffected. Requests of one connection run concurrently (at most
/// `maxInFlightPerConnection` at once; beyond that the server stops reading, pushing back on the
/// peer through TCP), and responses go out as each completes.
public final class TCPServer: Sendable {
    public let endpoint: Endpoint
    let listener: Socket
    let authenticator: Authenticator
    let settings: TransportSettings
    /// Set when `[tls]` is on: every accepted connection completes a TLS handshake first.
    let tls: TLSContext?
    let handler: any RequestHandler
    let logger: Logger
    public let maxInFlightPerConnection: Int
    private let state = Mutex(State())

    struct State {
        var connections: [ObjectIdentifier: Socket] = [:]
        var stopped = false
        var stats = Stats()
    }

    /// Counters for tests and status pages.
    public struct Stats: Sendable, Equatable {
        public var accepted = 0
        public var authenticated = 0
        public var authFailures = 0
        public var protocolErrors = 0
        public var requests = 0
    }

    /// Binds `endpoint` (port 0 picks a free one: see `port`). Call `start()` to accept.
    public convenience init(listen endpoint: Endpoint, secret: ClusterSecret, settings: TransportSettings = .init(),
                            handler: any RequestHandler, logger: Logger, maxInFlightPerConnection: Int = 64) throws(TransportError) {
        try self.init(listen: endpoint, keys: ClusterKeys(secret: secret), settings: settings, handler: handler,
                      logger: logger, maxInFlightPerConnection: maxInFlightPerConnection)
    }

    /// Binds `endpoint`, accepting proofs made with `keys` as they are at each handshake.
    public init(listen endpoint: Endpoint, keys: ClusterKeys, settings: TransportSettings = .init(),
                handler: any RequestHandler, logger: Logger, maxInFlightPerConnection: Int = 64) throws(TransportError) {
        self.listener = try Socket.listen(endpoint)
        self.endpoint = Endpoint(host: endpoint.host, port: listener.localPort)
        self.authenticator = Authenticator(keys: keys)
        self.settings = settings
        self.tls = try settings.tls.map { s throws(TransportError) in try TLSContext(s, role: .server) }
        self.handler = handler
        self.logger = logger
        self.maxInFlightPerConnection = maxInFlightPerConnection
    }

    public var port: UInt16 { endpoint.port }
    public var stats: Stats { state.withLock { $0.stats } }

    public func start() {
        let t = Thread { [self] in acceptLoop() }
        t.name = "granary-accept \(endpoint)"
        t.start()
    }

    /// Stops accepting and disconnects every peer.
    public func stop() {
        let sockets: [Socket] = state.withLock { s in
            s.stopped = true
            return Array(s.connections.values)
        }
        listener.shutdown()
        for s in sockets { s.shutdown() }
    }

    private func acceptLoop() {
        while let (socket, peer) = listener.accept() {
            let admitted = state.withLock { s -> Bool in
                guard !s.stopped else { return false }
                s.stats.accepted += 1
                s.connections[ObjectIdentifier(socket)] = socket
                return true
            }
            guard admitted else { socket.shutdown(); return }
            let t = Thread { [self] in
                serve(socket, peer: peer)
                state.withLock { _ = $0.connections.removeValue(forKey: ObjectIdentifier(socket)) }
                socket.shutdown()
            }
            t.name = "granary-conn \(peer)"
            t.start()
        }
    }

    private func count(_ update: (inout Stats) -> Void) { state.withLock { update(&$0.stats) } }

    private func authenticate(_ socket: any ByteStream, peer: String) -> Bool {
        socket.setReceiveTimeout(ms: settings.authTimeoutMs)
        socket.setSendTimeout(ms: settings.authTimeoutMs)
        let serverNonce = Authenticator.nonce()
        let challenge = AuthChallenge(serverNonce: serverNonce).encoded
        guard FrameIO.send(socket, FrameHeader(type: .authChallenge, requestID: 0, payloadLength: challenge.count), challenge) == .ok else {
            return false
        }
        let reason: String
        switch FrameIO.readFrame(socket, maxPayload: 4096) {
        case let .failure(f): reason = f.reason
        case let .success(frame):
            guard frame.header.type == .authResponse, !frame.header.isResponse else {
                reason = "sent \(frame.header.type) before authenticating"
                break
            }
            guard let response = try? AuthResponse.decode(frame.payload) else {
                reason = "malformed auth-response"
                break
            }
            guard let matched = authenticator.secretMatching(response, serverNonce: serverNonce) else {
                // Counted and logged before the client hears of it: whoever reacts to the refusal
                // (a test reading the stats) must find it counted.
                count { $0.authFailures += 1 }
                logger.warning("refused connection from \(peer): authentication failed: wrong cluster secret")
                // Tell the client why before closing, so its error says so too.
                let body = RemoteError(.unauthorized, "authentication failed: wrong cluster secret").encoded
                _ = FrameIO.send(socket, FrameHeader(type: .authResult, flags: FrameHeader.responseFlag | FrameHeader.errorFlag, requestID: 0, payloadLength: body.count), body)
                return false
            }
            let proof = AuthResult(mac: authenticator.serverProof(serverNonce: serverNonce, clientNonce: response.clientNonce, with: matched)).encoded
            guard FrameIO.send(socket, FrameHeader(type: .authResult, flags: FrameHeader.responseFlag, requestID: 0, payloadLength: proof.count), proof) == .ok else {
                return false
            }
            socket.setReceiveTimeout(ms: 0)
            socket.setSendTimeout(ms: settings.requestTimeoutMs)
            return true
        }
        count { $0.authFailures += 1 }
        logger.warning("refused connection from \(peer): authentication failed: \(reason)")
        return false
    }

    private func serve(_ plain: Socket, peer: String) {
        let socket: any ByteStream
        if let tls {
            switch tls.accept(plain, timeoutMs: settings.authTimeoutMs) {
            case let .success(stream): socket = stream
            case let .failure(f):
                count { $0.authFailures += 1 }
                logger.warning("refused connection from \(peer): TLS handshake failed: \(f.reason)")
                return
            }
        } else {
            socket = plain
        }
        guard authenticate(socket, peer: peer) else { return }
        count { $0.authenticated += 1 }
        let writer = ResponseWriter(socket)
        let slots = DispatchSemaphore(value: maxInFlightPerConnection)
        let inFlight = DispatchGroup()
        defer {
            // Handlers still running write to a shut-down socket and fail harmlessly; wait for them
            // so the connection's resources go away together.
            inFlight.wait()
        }
        while true {
            let header: FrameHeader
            switch FrameIO.readHeader(socket, maxPayload: settings.maxFrameBytes) {
            case let .success(h): header = h
            case let .failure(.closed(reason)):
                logger.debug("connection from \(peer) ended: \(reason)")
                return
            case let .failure(.wire(e)):
                count { $0.protocolErrors += 1 }
                logger.warning("closing connection from \(peer): \(e)")
                return
            }
            guard !header.isResponse else {
                count { $0.protocolErrors += 1 }
                logger.warning("closing connection from \(peer): it sent a response (\(header.type)) where a request belongs")
                return
            }
            let body: [UInt8]
            switch FrameIO.readPayload(socket, length: header.payloadLength) {
            case let .success(b): body = b
            case let .failure(f):
                if case .wire = f { count { $0.protocolErrors += 1 } }
                logger.warning("closing connection from \(peer): \(f.reason)")
                return
            }
            count { $0.requests += 1 }
            let request = Request(type: header.type, id: header.requestID, body: body, peer: peer)
            if let response = handler.handleInline(request) {
                if case let .failed(reason) = writer.send(response, to: request) {
                    logger.debug("response to \(peer) lost: \(reason)")
                    return
                }
                continue
            }
            slots.wait()
            inFlight.enter()
            Task { [handler, logger, writer, slots, inFlight, socket] in
                let response = await handler.handle(request)
                // Sending can block for as long as the peer takes to drain a large answer; doing
                // that on the cooperative pool would stall every other task of the process (with
                // two cores, two blocked sends stop everything), so the connection's own serial
                // queue does it, one frame at a time.
                writer.queue.async {
                    if case let .failed(reason) = writer.send(response, to: request) {
                        logger.debug("response to \(peer) lost: \(reason)")
                        socket.shutdown()
                    }
                    slots.signal()
                    inFlight.leave()
                }
            }
        }
    }
}

/// Writes the frames that concurrent handlers answer on one connection, one at a time, from the
/// connection's own serial queue (off the cooperative pool, since a send may block).
final class ResponseWriter: Sendable {
    let socket: any ByteStream
    let queue: DispatchQueue
    private let lock = Mutex(())

    init(_ socket: any ByteStream) {
        self.socket = socket
        self.queue = DispatchQueue(label: "granary-tx")
    }

    /// Writes `response` as the answer to `request`: one frame, never interleaved with another.
    func send(_ response: Response, to request: Request) -> Socket.IOResult {
        func header(_ flags: UInt8, _ length: Int) -> FrameHeader {
            FrameHeader(type: request.type, flags: FrameHeader.responseFlag | flags, requestID: request.id, payloadLength: length)
        }
        switch response {
        case let .ok(body):
            return lock.withLock { _ in FrameIO.send(socket, header(0, body.count), body) }
        case let .error(e):
            let body = e.encoded
            return lock.withLock { _ in FrameIO.send(socket, header(FrameHeader.errorFlag, body.count), body) }
        case let .data(head, bulk):
            var prefix = WireWriter()
            prefix.u32(UInt32(head.count))
            let h = header(FrameHeader.dataFlag, 4 + head.count + bulk.count)
            return lock.withLock { _ in
                switch bulk {
                case let .bytes(b):
                    return FrameIO.send(socket, h, prefix.bytes, head, b)
                case let .buffer(b):
                    return FrameIO.send(socket, h, parts: [prefix.bytes, head], data: UnsafeRawBufferPointer(b.bytes))
                }
            }
        }
    }
}
