import GranaryBuffers
import GranaryCore
import GranaryWire
import Synchronization

/// One authenticated connection to a Granary peer, carrying many requests at once (multiplexed by
/// request id; responses may arrive in any order).
///
/// Guarantees: every call ends — with the response, the peer's error (`TransportError.remote`), a
/// timeout, or `connectionClosed` — and a buffer handed to `read` is written only while that call
/// is in progress. TCP implements it now; RDMA implements it with the same conformance tests later.
public protocol Connection: AnyObject, Sendable {
    var peer: Endpoint { get }
    var isOpen: Bool { get }

    /// Sends `body` as a request of `type`, returns the response body.
    func call(_ type: MessageType, _ body: [UInt8], timeoutMs: Int?) async throws(TransportError) -> [UInt8]

    /// Sends a request whose body is `head` followed by `data`, written from the caller's memory.
    func call(_ type: MessageType, head: [UInt8], data: UnsafeRawBufferPointer, timeoutMs: Int?) async throws(TransportError) -> [UInt8]

    /// Sends a request whose answer is a data response (`Response.data`): its bulk data lands
    /// straight in `buffer`, which it must fill exactly, and its head is returned.
    @discardableResult
    func read(_ type: MessageType, _ body: [UInt8], into buffer: UnsafeMutableRawBufferPointer, timeoutMs: Int?) async throws(TransportError) -> [UInt8]

    /// Fails everything in flight with `connectionClosed` and releases the connection.
    func close()
}

/// Opens connections to peers. Implementations reuse an open connection per peer and reconnect when
/// it has closed; `call` and `read` retry an idempotent request once on a fresh connection when the
/// pooled one turned out to be closed — the usual case after a peer restarted.
public protocol Transport: Sendable {
    func connection(to peer: Endpoint) async throws(TransportError) -> any Connection
    func closeAll()
    /// Registrars a pool must use for reads into its buffers to go without a copy (RDMA: its
    /// registrar; TCP: none, since the socket reads straight into any memory).
    var arenaRegistrars: [any ArenaRegistrar] { get }
    /// Bytes reads put straight into callers' buffers, and bytes they had to copy there.
    var readCounters: TransportReadCounters { get }
}

extension Transport {
    public var arenaRegistrars: [any ArenaRegistrar] { [] }

    /// One request to `peer`, on the pooled connection.
    public func call(_ peer: Endpoint, _ type: MessageType, _ body: [UInt8], idempotent: Bool = true, timeoutMs: Int? = nil) async throws(TransportError) -> [UInt8] {
        do throws(TransportError) {
            let c = try await connection(to: peer)
            do {
                return try await c.call(type, body, timeoutMs: timeoutMs)
            } catch {
                guard idempotent, case .connectionClosed = error else { throw error }
                return try await connection(to: peer).call(type, body, timeoutMs: timeoutMs)
            }
        } catch {
            error.count()
            throw error
        }
    }

    /// Reads a data response's bulk data straight into `buffer` and returns its head, on the pooled connection.
    @discardableResult
    public func read(_ peer: Endpoint, _ type: MessageType, _ body: [UInt8], into buffer: UnsafeMutableRawBufferPointer, timeoutMs: Int? = nil) async throws(TransportError) -> [UInt8] {
        do throws(TransportError) {
            let c = try await connection(to: peer)
            do {
                return try await c.read(type, body, into: buffer, timeoutMs: timeoutMs)
            } catch {
                guard case .connectionClosed = error else { throw error }
                return try await connection(to: peer).read(type, body, into: buffer, timeoutMs: timeoutMs)
            }
        } catch {
            error.count()
            throw error
        }
    }

    /// One request to the first of `peers` that can be reached (the cluster's managers, in their
    /// configured order). An answer from a live peer, error answers included, is final; only an
    /// unreachable peer, or a manager answering that it does not lead (`notLeader`), moves on to
    /// the next.
    public func callFirstAvailable(_ peers: [Endpoint], _ type: MessageType, _ body: [UInt8], idempotent: Bool,
                                   timeoutMs: Int? = nil) async throws(TransportError) -> [UInt8] {
        var last: TransportError = .connectFailed(peers.first ?? Endpoint(host: "none", port: 1), reason: "no peers configured")
        // The peer that answered last goes first: when the first configured manager is dead or
        // cut off, each call would otherwise wait out a connect timeout before moving on.
        var order = peers
        if let good = PreferredPeer.table.withLock({ $0[peers] }), let i = order.firstIndex(of: good), i > 0 {
            order.remove(at: i)
            order.insert(good, at: 0)
        }
        for p in order {
            do {
                let answer = try await call(p, type, body, idempotent: idempotent, timeoutMs: timeoutMs)
                if peers.count > 1 { PreferredPeer.table.withLock { $0[peers] = p } }
                return answer
            } catch {
                if let remote = error.remoteError, remote.code != .notLeader { throw error }
                // A request that may have reached a manager that then died may have been applied
                // there: sending a non-idempotent one again elsewhere could apply it twice.
                if !idempotent, !error.neverSent { throw error }
                last = error
            }
        }
        throw last
    }
}

/// The peer of each list that answered last (process-wide: every client of the same managers
/// benefits from one finding that the first is gone).
enum PreferredPeer {
    static let table = Mutex<[[Endpoint]: Endpoint]>([:])
}
