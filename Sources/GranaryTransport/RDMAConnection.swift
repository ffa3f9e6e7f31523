#if canImport(Glibc)
import Glibc
#endif
import CVerbs
import Foundation
import GranaryBuffers
import GranaryCore
import GranaryWire
import Logging
import Synchronization

/// The client end of one authenticated RDMA connection (reliable connected queue pair).
///
/// Requests and answers are frames carried in send/receive messages (flow-controlled by credits).
/// A read whose buffer lies in registered memory (a pool of GranaryBuffers with the RDMA
/// registrar, as the loader and the cache use) names that buffer in its request, and the storage
/// node writes the data straight into it with a one-sided RDMA WRITE before it sends the answer —
/// no copy on either side. A buffer outside registered memory still works, with one copy, counted
/// in `copiedBytes`.
///
/// Guarantees: as `Connection`, and: when a read that named its buffer times out, the connection
/// is closed (its queue pair put in the error state) before the caller resumes, so the peer can
/// never write into that buffer after the caller has it back.
public final class RDMAConnection: Connection {
    public let peer: Endpoint
    let channel: RDMAChannel
    let frames: RDMAFrames
    let settings: TransportSettings
    let logger: Logger
    let authenticator: Authenticator
    private let state = Mutex(State())
    let counters: RDMATransport.CounterCells

    struct ReceiveBuffer: @unchecked Sendable {  // see TCPConnection.ReceiveBuffer; plus: a named buffer is only written while the QP lives, and a timeout closes the QP first
        let buffer: UnsafeMutableRawBufferPointer
    }

    enum Reply: Sendable { case bytes([UInt8]), filled(head: [UInt8]) }

    struct Pending {
        let type: MessageType
        let continuation: CheckedContinuation<Reply, any Error>
        let destination: ReceiveBuffer?
        let named: Bool
    }

    enum Handshake { case awaitingChallenge, awaitingResult(serverNonce: [UInt8], clientNonce: [UInt8]), done }

    struct State {
        var nextID: UInt64 = 1
        var pending: [UInt64: Pending] = [:]
        var closedReason: String?
        var handshake = Handshake.awaitingChallenge
        var handshakeError: TransportError?
    }
    private let handshakeDone = DispatchSemaphore(value: 0)

    init(peer: Endpoint, channel: RDMAChannel, frames: RDMAFrames, authenticator: Authenticator, settings: TransportSettings,
         counters: RDMATransport.CounterCells, logger: Logger) {
        self.peer = peer
        self.channel = channel
        self.frames = frames
        self.authenticator = authenticator
        self.settings = settings
        self.counters = counters
        self.logger = logger
    }

    public var isOpen: Bool { state.withLock { $0.closedReason == nil } && channel.isOpen }

    /// Dials `peer` over RDMA (resolve address and route, create the queue pair, connect) and
    /// authenticates. Blocking: call it off the cooperative pool (`RDMATransport` does).
    static func open(to peer: Endpoint, context: RDMAContext, pool: IOBufferPool, rdma: RDMASettings, authenticator: Authenticator,
                     settings: TransportSettings, counters: RDMATransport.CounterCells, logger: Logger) throws(TransportError) -> RDMAConnection {
        let timeout = settings.connectTimeoutMs
        guard let cm = rdma_create_event_channel() else { throw .connectFailed(peer, reason: "rdma_create_event_channel: \(String(cString: strerror(errno)))") }
        var idp: UnsafeMutablePointer<rdma_cm_id>?
        guard rdma_create_id(cm, &idp, nil, RDMA_PS_TCP) == 0, let id = idp else {
            rdma_destroy_event_channel(cm)
            throw .connectFailed(peer, reason: "rdma_create_id: \(String(cString: strerror(errno)))")
        }
        func giveUp(_ e: TransportError) -> TransportError {
            rdma_destroy_id(id)
            rdma_destroy_event_channel(cm)
            return e
        }
        func expect(_ kind: rdma_cm_event_type, _ step: String) throws(TransportError) {
            guard let e = RDMAConnectionManager.nextEvent(cm, timeoutMs: timeout) else { throw giveUp(.connectTimeout(peer, ms: timeout)) }
            guard e.kind == kind else {
                let reason = e.kind == RDMA_CM_EVENT_ADDR_ERROR
                    ? "no RDMA device serves a route to \(peer.host) (is it the address of an RDMA-capable interface?)"
                    : "\(step): \(e.name) (status \(e.status))"
                throw giveUp(.connectFailed(peer, reason: reason))
            }
        }
        let address: [UInt8]
        switch RDMAConnectionManager.address(peer) {
        case let .failure(f): throw giveUp(.connectFailed(peer, reason: f.reason))
        case let .success(a): address = a
        }
        let rc = address.withUnsafeBytes { rdma_resolve_addr(id, nil, UnsafeMutablePointer(mutating: $0.baseAddress?.assumingMemoryBound(to: sockaddr.self)), Int32(timeout)) }
        guard rc == 0 else { throw giveUp(.connectFailed(peer, reason: "rdma_resolve_addr: \(String(cString: strerror(errno)))")) }
        try expect(RDMA_CM_EVENT_ADDR_RESOLVED, "resolving the address")
        guard rdma_resolve_route(id, Int32(timeout)) == 0 else { throw giveUp(.connectFailed(peer, reason: "rdma_resolve_route: \(String(cString: strerror(errno)))")) }
        try expect(RDMA_CM_EVENT_ROUTE_RESOLVED, "resolving the route")

        let channel: RDMAChannel
        do {
            channel = try RDMAChannel(id: id, cmChannel: cm, context: context, pool: pool, depth: rdma.depth, slotBytes: rdma.slotBytes,
                                      maxPayload: settings.maxFrameBytes, label: "\(peer)", logger: logger)
        } catch {
            throw giveUp(.connectFailed(peer, reason: error.description))
        }
        // From here on the channel owns `id` and `cm`: its thread destroys them once closed.
        let hello = RDMAConnectionManager.Hello(depth: rdma.depth, slotBytes: rdma.slotBytes).encoded
        let connected: Int32 = hello.withUnsafeBytes { h in
            var param = rdma_conn_param()
            param.private_data = h.baseAddress
            param.private_data_len = UInt8(h.count)
            param.responder_resources = 8
            param.initiator_depth = 8
            param.retry_count = 7
            param.rnr_retry_count = 7
            return rdma_connect(id, &param)
        }
        func abandon(_ e: TransportError) -> TransportError {
            channel.start()
            channel.shutdown(reason: e.description)
            return e
        }
        guard connected == 0 else { throw abandon(.connectFailed(peer, reason: "rdma_connect: \(String(cString: strerror(errno)))")) }
        guard let e = RDMAConnectionManager.nextEvent(cm, timeoutMs: timeout) else { throw abandon(.connectTimeout(peer, ms: timeout)) }
        switch e.kind {
        case RDMA_CM_EVENT_ESTABLISHED: break
        case RDMA_CM_EVENT_REJECTED: throw abandon(.connectFailed(peer, reason: RDMAConnectionManager.rejectReason(e)))
        default: throw abandon(.connectFailed(peer, reason: "\(e.name) (status \(e.status))"))
        }
        let frames = RDMAFrames(channel: channel, pool: pool, context: context, landingBytes: rdma.landingBytes, counters: counters)
        let c = RDMAConnection(peer: peer, channel: channel, frames: frames, authenticator: authenticator, settings: settings, counters: counters, logger: logger)
        channel.setDelegate(c)
        channel.start()
        // The server speaks first: challenge, our proof, its proof.
        if c.handshakeDone.wait(timeout: .now() + .milliseconds(settings.authTimeoutMs)) == .timedOut {
            channel.shutdown(reason: "authentication timed out")
            throw .authenticationFailed(peer, reason: "no answer within \(settings.authTimeoutMs) ms")
        }
        if let e = c.state.withLock({ $0.handshakeError }) {
            channel.shutdown(reason: e.description)
            throw e
        }
        return c
    }

    // MARK: Connection

    public func call(_ type: MessageType, _ body: [UInt8], timeoutMs: Int? = nil) async throws(TransportError) -> [UInt8] {
        if case let .bytes(b) = try await send(type, head: body, data: nil, destination: nil, timeoutMs: timeoutMs) { return b }
        return []
    }

    public func call(_ type: MessageType, head: [UInt8], data: UnsafeRawBufferPointer, timeoutMs: Int? = nil) async throws(TransportError) -> [UInt8] {
        if case let .bytes(b) = try await send(type, head: head, data: data, destination: nil, timeoutMs: timeoutMs) { return b }
        return []
    }

    @discardableResult
    public func read(_ type: MessageType, _ body: [UInt8], into buffer: UnsafeMutableRawBufferPointer, timeoutMs: Int? = nil) async throws(TransportError) -> [UInt8] {
        if case let .filled(head) = try await send(type, head: body, data: nil, destination: ReceiveBuffer(buffer: buffer), timeoutMs: timeoutMs) { return head }
        return []
    }

    public func close() { channel.shutdown(reason: "closed by this side") }

    /// Sends `bytes` as one control message, unchecked — for tests that play a misbehaving peer.
    public func _sendRawControlMessage(_ bytes: [UInt8]) {
        var m = RDMAMessage(kind: .credits)
        m.raw = bytes
        channel.send(m)
    }

    private func send(_ type: MessageType, head: [UInt8], data: UnsafeRawBufferPointer?, destination: ReceiveBuffer?, timeoutMs: Int?) async throws(TransportError) -> Reply {
        let timeout = timeoutMs ?? settings.requestTimeoutMs
        let length = head.count + (data?.count ?? 0)
        guard length <= settings.maxFrameBytes else { throw .protocolError(peer, .frameTooLarge(length: length, limit: settings.maxFrameBytes)) }
        // A buffer in registered memory is named in the request, for the peer to write into.
        var target: RDMAMessage.Remote?
        if let dest = destination?.buffer, dest.count > 0, let k = frames.keys(UnsafeRawBufferPointer(dest)) {
            target = RDMAMessage.Remote(address: UInt64(UInt(bitPattern: dest.baseAddress)), rkey: k.rkey, length: UInt32(dest.count))
        }
        nonisolated(unsafe) let data = data  // used synchronously below, before this call returns or suspends on the answer
        do {
            return try await withCheckedThrowingContinuation { (cont: CheckedContinuation<Reply, any Error>) in
                let id: UInt64? = state.withLock { s in
                    if let reason = s.closedReason {
                        cont.resume(throwing: TransportError.connectionClosed(peer, reason: reason))
                        return nil
                    }
                    let id = s.nextID
                    s.nextID &+= 1
                    s.pending[id] = Pending(type: type, continuation: cont, destination: destination, named: target != nil)
                    return id
                }
                guard let id else { return }
                let header = FrameHeader(type: type, requestID: id, payloadLength: length)
                switch frames.message(header, parts: [head], data: data, target: target) {
                case let .failure(f):
                    fail(id, with: .connectFailed(peer, reason: f.reason))
                    return
                case let .success(m):
                    if !channel.send(m) { return }  // the channel closed; `channelClosed` fails the request
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

    private func fail(_ id: UInt64, with error: TransportError) {
        let p = state.withLock { $0.pending.removeValue(forKey: id) }
        p?.continuation.resume(throwing: error)
    }

    private func expire(_ id: UInt64, after ms: Int) {
        let p = state.withLock { $0.pending.removeValue(forKey: id) }
        guard let p else { return }
        if p.named {
            // The peer may still write into the caller's buffer: close the queue pair first.
            channel.shutdown(reason: "a read timed out after \(ms) ms (the connection is closed so that the peer cannot write into its buffer later)")
        }
        p.continuation.resume(throwing: TransportError.timeout(peer, p.type, ms: ms))
    }

    /// Completes a request from its answer. Runs off the completion thread when the answer had to
    /// be fetched.
    private func complete(_ header: FrameHeader, _ message: RDMAMessage, payload: [UInt8]?) {
        guard let p = state.withLock({ $0.pending.removeValue(forKey: header.requestID) }) else { return }
        guard let payload else {
            p.continuation.resume(throwing: TransportError.connectionClosed(peer, reason: channel.isOpen ? "fetching an answer failed" : "connection lost"))
            return
        }
        p.continuation.resume(with: result(header, message, payload: payload, for: p))
    }

    private func result(_ header: FrameHeader, _ m: RDMAMessage, payload: [UInt8], for p: Pending) -> Result<Reply, any Error> {
        if header.isError {
            do throws(WireError) { return .failure(TransportError.remote(peer, try RemoteError.decode(payload))) } catch {
                protocolFailure(.protocolError(peer, error))
                return .failure(TransportError.protocolError(peer, error))
            }
        }
        guard let dest = p.destination?.buffer else {
            if header.carriesData {
                return .failure(TransportError.protocolError(peer, .malformed(type: header.type, field: "flags", reason: "bulk data in answer to a call")))
            }
            return .success(.bytes(payload))
        }
        guard header.carriesData, payload.count >= 4 else {
            return .failure(TransportError.protocolError(peer, .malformed(type: header.type, field: "flags", reason: "answer to a read carries no data")))
        }
        let headLength = payload[0..<4].reduce(0) { $0 << 8 | Int($1) }
        guard headLength <= payload.count - 4, headLength <= TCPConnection.maxHeadBytes else {
            return .failure(TransportError.protocolError(peer, .malformed(type: header.type, field: "head length", reason: "\(headLength) in a payload of \(payload.count)")))
        }
        let head = Array(payload[4..<(4 + headLength)])
        if p.named {
            // The data was written straight into the buffer before this answer was sent.
            guard m.rendezvous == nil, payload.count == 4 + headLength else {
                return .failure(TransportError.protocolError(peer, .malformed(type: header.type, field: "data", reason: "inline data in answer to a read with a named buffer")))
            }
            guard Int(m.written) == dest.count else { return .failure(TransportError.unexpectedLength(peer, expected: dest.count, got: Int(m.written))) }
            counters.direct.add(dest.count, ordering: .relaxed)
            return .success(.filled(head: head))
        }
        let dataLength = payload.count - 4 - headLength
        guard dataLength == dest.count else { return .failure(TransportError.unexpectedLength(peer, expected: dest.count, got: dataLength)) }
        if dataLength > 0 {
            payload.withUnsafeBytes { dest.baseAddress.unsafelyUnwrapped.copyMemory(from: $0.baseAddress.unsafelyUnwrapped.advanced(by: 4 + headLength), byteCount: dataLength) }
            counters.copied.add(dataLength, ordering: .relaxed)
        }
        return .success(.filled(head: head))
    }

    private func protocolFailure(_ e: TransportError) {
        logger.warning("closing RDMA connection to \(peer): \(e)")
        channel.shutdown(reason: e.description)
    }
}

extension RDMAConnection: RDMAChannelDelegate {
    func channelEstablished(_ channel: RDMAChannel) {}

    func channel(_ channel: RDMAChannel, received m: RDMAMessage) {
        guard let header = m.header else { return }
        if case .release = m.kind { return }
        let phase = state.withLock { $0.handshake }
        guard case .done = phase else { return handshake(header, m, phase: phase) }
        guard header.isResponse else {
            return protocolFailure(.protocolError(peer, .malformed(type: header.type, field: "flags", reason: "the server sent a request on a client connection")))
        }
        if m.rendezvous != nil {
            RDMAFrames.fetchQueue.async { [self] in complete(header, m, payload: frames.payload(of: m)) }
        } else {
            complete(header, m, payload: m.payload)
        }
    }

    func channelClosed(_ channel: RDMAChannel, reason: String) {
        frames.releaseAll()
        let (all, wasHandshaking) = state.withLock { s -> ([Pending], Bool) in
            if s.closedReason == nil { s.closedReason = reason }
            let all = Array(s.pending.values)
            s.pending.removeAll()
            var handshaking = false
            if case .done = s.handshake {} else {
                handshaking = true
                if s.handshakeError == nil { s.handshakeError = .authenticationFailed(peer, reason: "connection closed: \(reason)") }
                s.handshake = .done
            }
            return (all, handshaking)
        }
        if wasHandshaking { handshakeDone.signal() }
        for p in all { p.continuation.resume(throwing: TransportError.connectionClosed(peer, reason: reason)) }
    }

    /// The client half of the challenge–response (same messages and proofs as over TCP).
    private func handshake(_ header: FrameHeader, _ m: RDMAMessage, phase: Handshake) {
        func finish(_ error: TransportError?) {
            state.withLock { s in
                s.handshake = .done
                s.handshakeError = error
            }
            handshakeDone.signal()
        }
        switch phase {
        case .awaitingChallenge:
            guard header.type == .authChallenge, !header.isResponse, let challenge = try? AuthChallenge.decode(m.payload) else {
                return finish(.authenticationFailed(peer, reason: "expected a challenge, got \(header.type)"))
            }
            let nonce = Authenticator.nonce()
            let body = AuthResponse(clientNonce: nonce, mac: authenticator.clientProof(serverNonce: challenge.serverNonce, clientNonce: nonce)).encoded
            state.withLock { $0.handshake = .awaitingResult(serverNonce: challenge.serverNonce, clientNonce: nonce) }
            var reply = RDMAMessage(kind: .frame)
            reply.header = FrameHeader(type: .authResponse, requestID: 0, payloadLength: body.count)
            reply.payload = body
            channel.send(reply)
        case let .awaitingResult(serverNonce, clientNonce):
            if header.isError {
                let message = (try? RemoteError.decode(m.payload).message) ?? "refused"
                return finish(.authenticationFailed(peer, reason: message))
            }
            guard header.type == .authResult, let result = try? AuthResult.decode(m.payload) else {
                return finish(.authenticationFailed(peer, reason: "expected auth-result, got \(header.type)"))
            }
            guard authenticator.verifyServer(result, serverNonce: serverNonce, clientNonce: clientNonce) else {
                return finish(.authenticationFailed(peer, reason: "the server could not prove it knows the cluster secret"))
            }
            finish(nil)
        case .done:
            break
        }
    }
}
