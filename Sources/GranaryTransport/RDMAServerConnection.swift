import Dispatch
import GranaryBuffers
import GranaryWire
import Synchronization

/// The server end of one RDMA connection: authenticates the peer, then hands its requests to the
/// server's handler and sends the answers, writing read data straight into the buffer a request
/// names.
final class RDMAServerConnection: Sendable {
    let server: RDMAServer
    let channel: RDMAChannel
    let frames: RDMAFrames
    let peer: String
    /// Requests answered inline run here, one at a time and in order, off the completion thread.
    let inlineQueue: DispatchQueue
    private let phase: Mutex<Phase>

    enum Phase { case connecting, challenged(serverNonce: [UInt8]), ready, closed }

    init(server: RDMAServer, channel: RDMAChannel, frames: RDMAFrames, peer: String) {
        self.server = server
        self.channel = channel
        self.frames = frames
        self.peer = peer
        self.inlineQueue = DispatchQueue(label: "granary-rdma-serve")
        self.phase = Mutex(.connecting)
    }

    func authenticationDeadline() {
        let pending = phase.withLock { p -> Bool in
            if case .ready = p { return false }
            if case .closed = p { return false }
            return true
        }
        guard pending else { return }
        server.count { $0.authFailures += 1 }
        server.logger.warning("refused RDMA connection from \(peer): no authentication within \(server.settings.authTimeoutMs) ms")
        channel.shutdown(reason: "authentication timed out")
    }

    private func protocolFailure(_ reason: String) {
        server.logger.warning("closing RDMA connection from \(peer): \(reason)")
        channel.shutdown(reason: "protocol error: \(reason)")
    }

    private func frame(_ header: FrameHeader, _ payload: [UInt8]) -> RDMAMessage {
        var m = RDMAMessage(kind: .frame)
        m.header = header
        m.payload = payload
        return m
    }

    /// Checks the peer's proof; on success answers with the server's own, else tells it why and
    /// closes once that has gone out.
    private func authenticate(_ header: FrameHeader, _ payload: [UInt8], serverNonce: [UInt8]) {
        let reason: String
        if header.type != .authResponse || header.isResponse {
            reason = "sent \(header.type) before authenticating"
        } else if let response = try? AuthResponse.decode(payload) {
            if let matched = server.authenticator.secretMatching(response, serverNonce: serverNonce) {
                let proof = AuthResult(mac: server.authenticator.serverProof(serverNonce: serverNonce, clientNonce: response.clientNonce, with: matched)).encoded
                phase.withLock { $0 = .ready }
                server.count { $0.authenticated += 1 }
                channel.send(frame(FrameHeader(type: .authResult, flags: FrameHeader.responseFlag, requestID: 0, payloadLength: proof.count), proof))
                return
            }
            reason = "wrong cluster secret"
            let body = RemoteError(.unauthorized, "authentication failed: wrong cluster secret").encoded
            let m = frame(FrameHeader(type: .authResult, flags: FrameHeader.responseFlag | FrameHeader.errorFlag, requestID: 0, payloadLength: body.count), body)
            phase.withLock { $0 = .closed }
            server.count { $0.authFailures += 1 }
            server.logger.warning("refused RDMA connection from \(peer): authentication failed: \(reason)")
            channel.send(m) { [channel] _ in channel.shutdown(reason: "authentication failed") }
            return
        } else {
            reason = "malformed auth-response"
        }
        phase.withLock { $0 = .closed }
        server.count { $0.authFailures += 1 }
        server.logger.warning("refused RDMA connection from \(peer): authentication failed: \(reason)")
        channel.shutdown(reason: "authentication failed")
    }

    private func serve(_ request: Request, target: RDMAMessage.Remote?) {
        server.count { $0.requests += 1 }
        let handler = server.handler
        inlineQueue.async { [self] in
            if let response = handler.handleInline(request) { return answer(request, response, target: target) }
            Task { answer(request, await handler.handle(request), target: target) }
        }
    }

    /// Sends `response`; for data answers to a request that named a buffer, the data is written
    /// into it first (from the handler's buffer when registered, else from a staged copy).
    private func answer(_ request: Request, _ response: Response, target: RDMAMessage.Remote?) {
        func header(_ flags: UInt8, _ length: Int) -> FrameHeader {
            FrameHeader(type: request.type, flags: FrameHeader.responseFlag | flags, requestID: request.id, payloadLength: length)
        }
        let built: Result<RDMAMessage, RDMAFailure>
        var write: (RDMAChannel.LocalMemory, RDMAMessage.Remote)?
        var written = 0
        switch response {
        case let .ok(body):
            built = frames.message(header(0, body.count), parts: [body])
        case let .error(e):
            let body = e.encoded
            built = frames.message(header(FrameHeader.errorFlag, body.count), parts: [body])
        case let .data(head, bulk):
            var prefix = WireWriter()
            prefix.u32(UInt32(head.count))
            if let target {
                // Head inline; the data goes by one-sided write, and only if it fits the buffer exactly.
                written = bulk.count
                if bulk.count == Int(target.length), bulk.count > 0 {
                    switch local(bulk) {
                    case let .success(memory): write = (memory, target)
                    case let .failure(f):
                        built = .failure(f)
                        return finish(request, built, write: nil, written: 0)
                    }
                }
                built = frames.message(header(FrameHeader.dataFlag, 4 + head.count), parts: [prefix.bytes, head])
            } else {
                switch bulk {
                case let .bytes(b):
                    built = frames.message(header(FrameHeader.dataFlag, 4 + head.count + b.count), parts: [prefix.bytes, head, b])
                case let .buffer(b):
                    built = frames.message(header(FrameHeader.dataFlag, 4 + head.count + b.count), parts: [prefix.bytes, head], data: UnsafeRawBufferPointer(b.bytes))
                }
            }
        }
        finish(request, built, write: write, written: written)
    }

    private func finish(_ request: Request, _ built: Result<RDMAMessage, RDMAFailure>, write: (RDMAChannel.LocalMemory, RDMAMessage.Remote)?, written: Int) {
        switch built {
        case var .success(m):
            m.written = UInt32(clamping: written)
            let owner = write?.0.owner
            channel.send(m, write: write, returnsCredit: true) { _ in withExtendedLifetime(owner) {} }
        case let .failure(f):
            server.logger.warning("answer to \(request.type) from \(peer) lost: \(f.reason)")
            let body = RemoteError(.io, "server could not send its answer: \(f.reason)").encoded
            var m = RDMAMessage(kind: .frame)
            m.header = FrameHeader(type: request.type, flags: FrameHeader.responseFlag | FrameHeader.errorFlag, requestID: request.id, payloadLength: body.count)
            m.payload = body
            channel.send(m, returnsCredit: true)
        }
    }

    /// Registered memory holding `bulk`: the handler's own buffer when a registered pool made it,
    /// else a staged copy.
    private func local(_ bulk: BulkData) -> Result<RDMAChannel.LocalMemory, RDMAFailure> {
        if case let .buffer(b) = bulk, let k = frames.keys(UnsafeRawBufferPointer(b.bytes)), let base = b.bytes.baseAddress {
            return .success(RDMAChannel.LocalMemory(address: base, count: b.count, lkey: k.lkey, owner: b))
        }
        let staged: IOBuffer?
        do { staged = try frames.pool.tryTake(bulk.count) } catch { return .failure(RDMAFailure(reason: "cannot stage \(bulk.count) bytes: \(error)")) }
        guard let staged, let base = staged.bytes.baseAddress, let k = frames.keys(UnsafeRawBufferPointer(staged.bytes)) else {
            return .failure(RDMAFailure(reason: "registered staging memory exhausted (\(bulk.count) bytes asked)"))
        }
        switch bulk {
        case let .bytes(b): b.withUnsafeBytes { base.copyMemory(from: $0.baseAddress.unsafelyUnwrapped, byteCount: b.count) }
        case let .buffer(b): base.copyMemory(from: b.bytes.baseAddress.unsafelyUnwrapped, byteCount: b.count)
        }
        frames.counters.staged.add(bulk.count, ordering: .relaxed)
        return .success(RDMAChannel.LocalMemory(address: base, count: bulk.count, lkey: k.lkey, owner: staged))
    }
}

extension RDMAServerConnection: RDMAChannelDelegate {
    func channelEstablished(_ channel: RDMAChannel) {
        let nonce = Authenticator.nonce()
        phase.withLock { $0 = .challenged(serverNonce: nonce) }
        let challenge = AuthChallenge(serverNonce: nonce).encoded
        channel.send(frame(FrameHeader(type: .authChallenge, requestID: 0, payloadLength: challenge.count), challenge))
    }

    func channel(_ channel: RDMAChannel, received m: RDMAMessage) {
        if case .release = m.kind { return frames.release(m.token) }
        guard let header = m.header else { return }
        switch phase.withLock({ $0 }) {
        case .connecting, .closed:
            protocolFailure("sent \(header.type) before the connection was set up")
        case let .challenged(nonce):
            guard m.rendezvous == nil else { return protocolFailure("oversized authentication message") }
            authenticate(header, m.payload, serverNonce: nonce)
        case .ready:
            guard !header.isResponse else { return protocolFailure("it sent a response (\(header.type)) where a request belongs") }
            if m.rendezvous != nil {
                RDMAFrames.fetchQueue.async { [self] in
                    guard let body = frames.payload(of: m) else { return channel.shutdown(reason: "fetching a request failed") }
                    serve(Request(type: header.type, id: header.requestID, body: body, peer: peer), target: m.target)
                }
            } else {
                serve(Request(type: header.type, id: header.requestID, body: m.payload, peer: peer), target: m.target)
            }
        }
    }

    func channelClosed(_ channel: RDMAChannel, reason: String) {
        phase.withLock { $0 = .closed }
        if reason.hasPrefix("protocol error") { server.count { $0.protocolErrors += 1 } }
        frames.releaseAll()
        server.logger.debug("RDMA connection from \(peer) ended: \(reason)")
        server.forget(self)
    }
}
