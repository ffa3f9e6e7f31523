import Foundation
import GranaryCore
import GranaryWire
import Logging
import Synchronization

/// The client end of one authenticated TCP connection.
///
/// Requests are written under a lock, one frame at a time, by the calling task; one reader thread
/// per connection receives responses in whatever order the peer sends them and completes the
/// matching request. A read's response body is received straight into the caller's buffer — no
/// intermediate copy between the socket and the caller; its small head comes back as the result.
public final class TCPConnection: Connection {
    public let peer: Endpoint
    /// The socket, or the TLS session over it.
    let socket: any ByteStream
    let settings: TransportSettings
    let logger: Logger
    private let state = Mutex(State())
    private let writeLock = Mutex(())

    /// Where a read's response lands.
    ///
    /// `@unchecked Sendable` is safe because of how it is used: the caller of `read` owns the memory
    /// and is suspended in that call until the reader thread resumes it; the reader thread writes
    /// the memory only while the request is pending and marked `receiving`, and a request marked
    /// `receiving` is completed only by the reader thread (a timeout skips it), so no write can
    /// happen after the caller resumes.
    struct ReceiveBuffer: @unchecked Sendable {
        let buffer: UnsafeMutableRawBufferPointer
    }

    enum Reply: Sendable { case bytes([UInt8]), filled(head: [UInt8]) }

    /// The most a data response's head may be; anything bigger is a protocol error.
    static let maxHeadBytes = 1 << 20

    struct Pending {
        let type: MessageType
        let continuation: CheckedContinuation<Reply, any Error>
        let destination: ReceiveBuffer?
        var receiving = false
    }

    struct State {
        var nextID: UInt64 = 1
        var pending: [UInt64: Pending] = [:]
        var closedReason: String?
    }

    let received: TCPTransport.ReceivedBytes?

    init(socket: any ByteStream, peer: Endpoint, settings: TransportSettings, received: TCPTransport.ReceivedBytes? = nil, logger: Logger) {
        self.received = received
        self.socket = socket
        self.peer = peer
        self.settings = settings
        self.logger = logger
    }

    public var isOpen: Bool { state.withLock { $0.closedReason == nil } }

    /// Dials `peer`, authenticates, and starts the reader thread. Blocking: call it off the
    /// cooperative pool (`TCPTransport` does).
    static func open(to peer: Endpoint, authenticator: Authenticator, settings: TransportSettings, tls: TLSContext? = nil,
                     received: TCPTransport.ReceivedBytes? = nil, logger: Logger) throws(TransportError) -> TCPConnection {
        let plain = try Socket.connect(peer, timeoutMs: settings.connectTimeoutMs)
        // With TLS, the cluster-secret handshake below runs inside the TLS session.
        let s: any ByteStream = try tls?.connect(plain, peer: peer, timeoutMs: settings.authTimeoutMs) ?? plain
        s.setReceiveTimeout(ms: settings.authTimeoutMs)
        s.setSendTimeout(ms: settings.authTimeoutMs)
        // Handshake: challenge in, proof out, server's proof in.
        let challenge: AuthChallenge
        switch FrameIO.readFrame(s, maxPayload: 4096) {
        case let .failure(f): throw .authenticationFailed(peer, reason: "no challenge: \(f.reason)")
        case let .success(frame):
            guard frame.header.type == .authChallenge, !frame.header.isResponse else {
                throw .authenticationFailed(peer, reason: "expected a challenge, got \(frame.header.type)")
            }
            do throws(WireError) { challenge = try AuthChallenge.decode(frame.payload) } catch { throw .protocolError(peer, error) }
        }
        let clientNonce = Authenticator.nonce()
        let proof = AuthResponse(clientNonce: clientNonce, mac: authenticator.clientProof(serverNonce: challenge.serverNonce, clientNonce: clientNonce))
        let body = proof.encoded
        if case let .failed(r) = FrameIO.send(s, FrameHeader(type: .authResponse, requestID: 0, payloadLength: body.count), body) {
            throw .authenticationFailed(peer, reason: r)
        }
        switch FrameIO.readFrame(s, maxPayload: 64 << 10) {
        case let .failure(f): throw .authenticationFailed(peer, reason: "peer closed the connection: \(f.reason) (wrong cluster secret?)")
        case let .success(frame):
            if frame.header.isError {
                let message = (try? RemoteError.decode(frame.payload).message) ?? "refused"
                throw .authenticationFailed(peer, reason: message)
            }
            guard frame.header.type == .authResult else { throw .authenticationFailed(peer, reason: "expected auth-result, got \(frame.header.type)") }
            let result: AuthResult
            do throws(WireError) { result = try AuthResult.decode(frame.payload) } catch { throw .protocolError(peer, error) }
            guard authenticator.verifyServer(result, serverNonce: challenge.serverNonce, clientNonce: clientNonce) else {
                throw .authenticationFailed(peer, reason: "the server could not prove it knows the cluster secret")
            }
        }
        s.setReceiveTimeout(ms: 0)
        // A peer that stops reading must not wedge writers forever.
        s.setSendTimeout(ms: settings.requestTimeoutMs)
        let c = TCPConnection(socket: s, peer: peer, settings: settings, received: received, logger: logger)
        let reader = Thread { [c] in c.readLoop() }
        reader.name = "granary-rx \(peer)"
        reader.start()
        return c
    }

    public func call(_ type: MessageType, _ body: [UInt8], timeoutMs: Int? = nil) async throws(TransportError) -> [UInt8] {
        let reply = try await send(type, head: body, data: nil, destination: nil, timeoutMs: timeoutMs)
        if case let .bytes(b) = reply { return b }
        return []
    }

    public func call(_ type: MessageType, head: [UInt8], data: UnsafeRawBufferPointer, timeoutMs: Int? = nil) async throws(TransportError) -> [UInt8] {
        let reply = try await send(type, head: head, data: data, destination: nil, timeoutMs: timeoutMs)
        if case let .bytes(b) = reply { return b }
        return []
    }

    @discardableResult
    public func read(_ type: MessageType, _ body: [UInt8], into buffer: UnsafeMutableRawBufferPointer, timeoutMs: Int? = nil) async throws(TransportError) -> [UInt8] {
        let dest = ReceiveBuffer(buffer: buffer)
        if case let .filled(head) = try await send(type, head: body, data: nil, destination: dest, timeoutMs: timeoutMs) { return head }
        return []
    }

    private func send(_ type: MessageType, head: [UInt8], data: UnsafeRawBufferPointer?, destination: ReceiveBuffer?, timeoutMs: Int?) async throws(TransportError) -> Reply {
        let timeout = timeoutMs ?? settings.requestTimeoutMs
        let length = head.count + (data?.count ?? 0)
        guard length <= settings.maxFrameBytes else {
            throw .protocolError(peer, .frameTooLarge(length: length, limit: settings.maxFrameBytes))
        }
        // The raw pointer is used synchronously inside the closure, before it returns.
        nonisolated(unsafe) let data = data
        do {
            return try await withCheckedThrowingContinuation { (cont: CheckedContinuation<Reply, any Error>) in
                let id: UInt64? = state.withLock { s in
                    if let reason = s.closedReason {
                        cont.resume(throwing: TransportError.connectionClosed(peer, reason: reason))
                        return nil
                    }
                    let id = s.nextID
                    s.nextID &+= 1
                    s.pending[id] = Pending(type: type, continuation: cont, destination: destination)
                    return id
                }
                guard let id else { return }
                let header = FrameHeader(type: type, requestID: id, payloadLength: length)
                let result = writeLock.withLock { _ in FrameIO.send(socket, header, parts: [head], data: data) }
                if case let .failed(reason) = result {
                    shutdown(reason: "send failed: \(reason)")
                    return
                }
                DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(timeout)) { [weak self] in
                    self?.expire(id, after: timeout)
                }
            }
        } catch let e as TransportError {
            throw e
        } catch {
            throw .connectionClosed(peer, reason: "\(error)")
        }
    }

    /// Fails a request that is still waiting; one already being received is left to the reader.
    private func expire(_ id: UInt64, after ms: Int) {
        let p: Pending? = state.withLock { s in
            guard let p = s.pending[id], !p.receiving else { return nil }
            s.pending[id] = nil
            return p
        }
        p?.continuation.resume(throwing: TransportError.timeout(peer, p?.type ?? .ping, ms: ms))
    }

    public func close() { shutdown(reason: "closed by this side") }

    /// Marks the connection closed and fails every request nobody is receiving. The reader thread
    /// then wakes (the socket is shut down) and fails the one it may be receiving.
    func shutdown(reason: String) {
        let failed: [Pending] = state.withLock { s in
            if s.closedReason == nil { s.closedReason = reason }
            let waiting = s.pending.filter { !$0.value.receiving }
            for id in waiting.keys { s.pending[id] = nil }
            return Array(waiting.values)
        }
        socket.shutdown()
        for p in failed { p.continuation.resume(throwing: TransportError.connectionClosed(peer, reason: reason)) }
    }

    private func readLoop() {
        while true {
            let header: FrameHeader
            switch FrameIO.readHeader(socket, maxPayload: settings.maxFrameBytes) {
            case let .success(h): header = h
            case let .failure(f):
                if isOpen, case .wire = f { logger.warning("closing connection to \(peer): \(f.reason)") }
                failAll(reason: f.reason)
                return
            }
            guard header.isResponse else {
                logger.warning("closing connection to \(peer): it sent a request (\(header.type)) on a client connection")
                failAll(reason: "protocol error: unexpected request from server")
                return
            }
            let claimed: Pending? = state.withLock { s in
                guard var p = s.pending[header.requestID] else { return nil }
                p.receiving = true
                s.pending[header.requestID] = p
                return p
            }
            guard let p = claimed else {
                // A response to a request that already timed out: drop its body, keep the connection.
                if socket.discard(header.payloadLength) != .ok { failAll(reason: "connection lost"); return }
                continue
            }
            let outcome = receiveBody(header, into: p)
            state.withLock { _ = $0.pending.removeValue(forKey: header.requestID) }
            switch outcome {
            case let .success(reply): p.continuation.resume(returning: reply)
            case let .failure(error):
                p.continuation.resume(throwing: error)
                if case .connectionClosed = error { failAll(reason: error.description); return }
                if case .protocolError = error { failAll(reason: error.description); return }
            }
        }
    }

    private func receiveBody(_ header: FrameHeader, into p: Pending) -> Result<Reply, TransportError> {
        let length = header.payloadLength
        if header.carriesData && p.destination == nil {
            if socket.discard(length) != .ok { return .failure(.connectionClosed(peer, reason: "connection lost")) }
            return .failure(.protocolError(peer, .malformed(type: header.type, field: "flags", reason: "bulk data in answer to a call")))
        }
        if header.isError || p.destination == nil {
            switch FrameIO.readPayload(socket, length: length) {
            case let .failure(f): return .failure(.connectionClosed(peer, reason: f.reason))
            case let .success(body):
                guard header.isError else { return .success(.bytes(body)) }
                do throws(WireError) {
                    return .failure(.remote(peer, try RemoteError.decode(body)))
                } catch {
                    return .failure(.protocolError(peer, error))
                }
            }
        }
        guard let dest = p.destination?.buffer else { return .failure(.connectionClosed(peer, reason: "internal: no destination")) }
        // A data response: head length, head, then the data, which goes straight into `dest`.
        guard header.carriesData, length >= 4 else {
            if socket.discard(length) != .ok { return .failure(.connectionClosed(peer, reason: "connection lost")) }
            return .failure(.protocolError(peer, .malformed(type: header.type, field: "flags", reason: "answer to a read carries no data")))
        }
        var prefix = [UInt8](repeating: 0, count: 4)
        if let f = FrameIO.ReadFailure(prefix.withUnsafeMutableBytes { socket.receive(into: $0) }, expected: 4) {
            return .failure(.connectionClosed(peer, reason: f.reason))
        }
        let headLength = prefix.reduce(0) { $0 << 8 | Int($1) }
        guard headLength <= length - 4, headLength <= Self.maxHeadBytes else {
            if socket.discard(length - 4) != .ok { return .failure(.connectionClosed(peer, reason: "connection lost")) }
            return .failure(.protocolError(peer, .malformed(type: header.type, field: "head length", reason: "\(headLength) in a payload of \(length)")))
        }
        let head: [UInt8]
        switch FrameIO.readPayload(socket, length: headLength) {
        case let .failure(f): return .failure(.connectionClosed(peer, reason: f.reason))
        case let .success(h): head = h
        }
        let dataLength = length - 4 - headLength
        guard dataLength == dest.count else {
            if socket.discard(dataLength) != .ok { return .failure(.connectionClosed(peer, reason: "connection lost")) }
            return .failure(.unexpectedLength(peer, expected: dest.count, got: dataLength))
        }
        if dataLength > 0, let f = FrameIO.ReadFailure(socket.receive(into: dest), expected: dataLength) {
            return .failure(.connectionClosed(peer, reason: f.reason))
        }
        received?.value.add(dataLength, ordering: .relaxed)
        return .success(.filled(head: head))
    }

    private func failAll(reason: String) {
        let all: [Pending] = state.withLock { s in
            if s.closedReason == nil { s.closedReason = reason }
            let all = Array(s.pending.values)
            s.pending.removeAll()
            return all
        }
        socket.shutdown()
        for p in all { p.continuation.resume(throwing: TransportError.connectionClosed(peer, reason: reason)) }
    }
}
