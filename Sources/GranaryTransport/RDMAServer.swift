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

/// An RDMA listener (RDMA connection manager, reliable connected queue pairs) serving
/// authenticated Granary connections: the RDMA twin of `TCPServer`, with the same guarantees.
///
/// Data answers to reads that name a registered buffer are written into it with one-sided RDMA
/// WRITEs, straight from the handler's buffer when that is registered memory (a `BufferPool`
/// built with this server's `registrar`, as storage nodes do), before the answer is sent.
/// Requests in flight per connection are bounded by the connection's receive depth (credits).
public final class RDMAServer: TransportServer {
    public let endpoint: Endpoint
    let authenticator: Authenticator
    let settings: TransportSettings
    let rdma: RDMASettings
    let handler: any RequestHandler
    let logger: Logger
    let context: RDMAContext
    let pool: IOBufferPool
    /// Registers memory (a storage node's answer buffers) so answers go out without a copy.
    public let registrar: RDMARegistrar
    let listener: Listener
    private let state = Mutex(State())

    /// The listening cm_id and its event channel, owned by the accept thread, which destroys
    /// them when it stops (librdmacm calls on them are thread-safe).
    struct Listener: @unchecked Sendable {
        let id: UnsafeMutablePointer<rdma_cm_id>
        let channel: UnsafeMutablePointer<rdma_event_channel>
        let wake: Int32
        let wakeWrite: Int32
    }

    struct State {
        var connections: [ObjectIdentifier: RDMAServerConnection] = [:]
        var stopped = false
        var stats = TCPServer.Stats()
    }

    public var port: UInt16 { endpoint.port }
    public var stats: TCPServer.Stats { state.withLock { $0.stats } }
    /// Bytes the server had to copy into registered memory before sending them.
    public var stagedBytes: Int { counters.staged.load(ordering: .relaxed) }
    let counters = RDMATransport.CounterCells()

    /// Binds `endpoint` (an address of an RDMA-capable interface; port 0 picks one). Call `start()`.
    public convenience init(listen endpoint: Endpoint, secret: ClusterSecret, settings: TransportSettings = .init(), rdma: RDMASettings = .init(),
                            handler: any RequestHandler, logger: Logger) throws(TransportError) {
        try self.init(listen: endpoint, keys: ClusterKeys(secret: secret), settings: settings, rdma: rdma,
                      handler: handler, logger: logger)
    }

    /// Binds `endpoint`, accepting proofs made with `keys` as they are at each handshake.
    public init(listen endpoint: Endpoint, keys: ClusterKeys, settings: TransportSettings = .init(), rdma: RDMASettings = .init(),
                handler: any RequestHandler, logger: Logger) throws(TransportError) {
        let context = try RDMAContext.shared.get()
        self.context = context
        self.registrar = RDMARegistrar(context: context)
        do {
            self.pool = try IOBufferPool(rdma.pool, registrars: [registrar], logger: logger)
        } catch {
            throw .rdmaUnavailable(reason: "cannot set up registered memory: \(error)")
        }
        guard let ch = rdma_create_event_channel() else { throw .listenFailed(endpoint, reason: "rdma_create_event_channel: \(String(cString: strerror(errno)))") }
        var idp: UnsafeMutablePointer<rdma_cm_id>?
        guard rdma_create_id(ch, &idp, nil, RDMA_PS_TCP) == 0, let id = idp else {
            rdma_destroy_event_channel(ch)
            throw .listenFailed(endpoint, reason: "rdma_create_id: \(String(cString: strerror(errno)))")
        }
        func fail(_ what: String) -> TransportError {
            let e = TransportError.listenFailed(endpoint, reason: "\(what): \(String(cString: strerror(errno)))")
            rdma_destroy_id(id)
            rdma_destroy_event_channel(ch)
            return e
        }
        let address: [UInt8]
        switch RDMAConnectionManager.address(endpoint) {
        case let .failure(f): throw fail(f.reason)
        case let .success(a): address = a
        }
        let bound = address.withUnsafeBytes { rdma_bind_addr(id, UnsafeMutablePointer(mutating: $0.baseAddress?.assumingMemoryBound(to: sockaddr.self))) }
        guard bound == 0 else { throw fail("rdma_bind_addr") }
        guard rdma_listen(id, 128) == 0 else { throw fail("rdma_listen") }
        var pipeFDs: [Int32] = [-1, -1]
        _ = pipe(&pipeFDs)
        for fd in [ch.pointee.fd, pipeFDs[0], pipeFDs[1]] {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        self.listener = Listener(id: id, channel: ch, wake: pipeFDs[0], wakeWrite: pipeFDs[1])
        self.endpoint = Endpoint(host: endpoint.host, port: UInt16(bigEndian: rdma_get_src_port(id)))
        self.authenticator = Authenticator(keys: keys)
        self.settings = settings
        self.rdma = rdma
        self.handler = handler
        self.logger = logger
    }

    public func start() {
        let t = Thread { [self] in acceptLoop() }
        t.name = "granary-rdma-accept \(endpoint)"
        t.start()
    }

    public func stop() {
        let all = state.withLock { s -> [RDMAServerConnection] in
            s.stopped = true
            return Array(s.connections.values)
        }
        var one: UInt8 = 1
        _ = write(listener.wakeWrite, &one, 1)
        for c in all { c.channel.shutdown(reason: "server stopped") }
    }

    func count(_ update: (inout TCPServer.Stats) -> Void) { state.withLock { update(&$0.stats) } }

    func forget(_ c: RDMAServerConnection) { state.withLock { _ = $0.connections.removeValue(forKey: ObjectIdentifier(c)) } }

    private func acceptLoop() {
        var fds = [pollfd(fd: listener.channel.pointee.fd, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: listener.wake, events: Int16(POLLIN), revents: 0)]
        while !state.withLock({ $0.stopped }) {
            for i in fds.indices { fds[i].revents = 0 }
            _ = poll(&fds, 2, -1)
            guard fds[0].revents & Int16(POLLIN) != 0 else { continue }
            while let e = RDMAConnectionManager.takeEvent(listener.channel) {
                if e.kind == RDMA_CM_EVENT_CONNECT_REQUEST, let id = e.id { accept(id, hello: e.privateData) }
            }
        }
        rdma_destroy_id(listener.id)
        rdma_destroy_event_channel(listener.channel)
        close(listener.wake)
        close(listener.wakeWrite)
    }

    private func reject(_ id: UnsafeMutablePointer<rdma_cm_id>, _ reason: String) {
        count { $0.protocolErrors += 1 }
        logger.warning("refused RDMA connection: \(reason)")
        let words = Array(reason.utf8.prefix(140))
        _ = words.withUnsafeBytes { rdma_reject(id, $0.baseAddress, UInt8($0.count)) }
        rdma_destroy_id(id)
    }

    private func accept(_ id: UnsafeMutablePointer<rdma_cm_id>, hello raw: [UInt8]) {
        count { $0.accepted += 1 }
        let peer = RDMAServer.peerName(id)
        let hello: RDMAConnectionManager.Hello
        switch RDMAConnectionManager.Hello.decode(raw) {
        case let .failure(f): return reject(id, "from \(peer): \(f.reason)")
        case let .success(h): hello = h
        }
        // Each connection gets its own event channel, watched by its own completion thread.
        guard let ch = rdma_create_event_channel() else { return reject(id, "rdma_create_event_channel: \(String(cString: strerror(errno)))") }
        guard rdma_migrate_id(id, ch) == 0 else {
            rdma_destroy_event_channel(ch)
            return reject(id, "rdma_migrate_id: \(String(cString: strerror(errno)))")
        }
        let channel: RDMAChannel
        do {
            channel = try RDMAChannel(id: id, cmChannel: ch, context: context, pool: pool, depth: hello.depth, slotBytes: hello.slotBytes,
                                      maxPayload: settings.maxFrameBytes, label: peer, logger: logger)
        } catch {
            reject(id, "\(peer): \(error)")
            rdma_destroy_event_channel(ch)
            return
        }
        let frames = RDMAFrames(channel: channel, pool: pool, context: context, landingBytes: rdma.landingBytes, counters: counters)
        let c = RDMAServerConnection(server: self, channel: channel, frames: frames, peer: peer)
        let admitted = state.withLock { s -> Bool in
            guard !s.stopped else { return false }
            s.connections[ObjectIdentifier(c)] = c
            return true
        }
        channel.setDelegate(c)
        channel.start()
        guard admitted else { return channel.shutdown(reason: "server stopped") }
        var param = rdma_conn_param()
        param.responder_resources = 8
        param.initiator_depth = 8
        param.rnr_retry_count = 7
        guard rdma_accept(id, &param) == 0 else {
            return channel.shutdown(reason: "rdma_accept: \(String(cString: strerror(errno)))")
        }
        // Authentication timeout: a peer that has not proven the secret by then is dropped.
        DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(settings.authTimeoutMs)) { [weak c] in
            c?.authenticationDeadline()
        }
    }

    static func peerName(_ id: UnsafeMutablePointer<rdma_cm_id>) -> String {
        guard let sa = rdma_get_peer_addr(id) else { return "rdma peer" }
        var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        let len = socklen_t(sa.pointee.sa_family == sa_family_t(AF_INET6) ? MemoryLayout<sockaddr_in6>.size : MemoryLayout<sockaddr_in>.size)
        guard getnameinfo(sa, len, &host, socklen_t(host.count), nil, 0, NI_NUMERICHOST) == 0 else { return "rdma peer" }
        let port = UInt16(bigEndian: rdma_get_dst_port(id))
        let name = String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return "\(name):\(port) (rdma)"
    }
}
