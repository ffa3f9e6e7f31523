#if canImport(Glibc)
import Glibc
#endif
import CVerbs
import Foundation
import GranaryBuffers
import GranaryWire
import Logging
import Synchronization

/// What a channel tells the connection that owns it. Called on the channel's completion thread,
/// which must never block on the network: anything that waits (a rendezvous fetch, a handler)
/// goes elsewhere.
protocol RDMAChannelDelegate: AnyObject, Sendable {
    /// The connection manager reported the connection up (server side; the client waits for it
    /// while dialing).
    func channelEstablished(_ channel: RDMAChannel)
    func channel(_ channel: RDMAChannel, received message: RDMAMessage)
    /// Called once, when the channel closes for any reason.
    func channelClosed(_ channel: RDMAChannel, reason: String)
}

/// One reliable-connected queue pair: its completion queue and channel, its receive and send
/// slots, credit-based flow control and the one thread that handles its completions and
/// connection-manager events.
///
/// Guarantees: a message is posted only while the peer has a receive slot for it (credits), so
/// the peer never sees a receiver-not-ready; one credit is kept back for returning credits, so
/// the two sides cannot both run dry; every `onSent` callback runs exactly once (true when the
/// send completed, false when the channel closed first); after `shutdown` returns, the queue pair
/// is in the error state, so no one-sided write of the peer can land in local memory any more.
/// The completion thread sleeps on the completion channel when idle instead of polling.
final class RDMAChannel: Sendable {
    /// libibverbs/librdmacm objects owned by this channel, destroyed once by its completion thread
    /// after the queue pair is drained. All verbs used on them from several threads
    /// (post send/receive, modify QP, disconnect) are thread-safe in libibverbs.
    struct Handles: @unchecked Sendable {
        let id: UnsafeMutablePointer<rdma_cm_id>
        let cmChannel: UnsafeMutablePointer<rdma_event_channel>
        let compChannel: UnsafeMutablePointer<ibv_comp_channel>
        let cq: UnsafeMutablePointer<ibv_cq>
        let qp: UnsafeMutablePointer<ibv_qp>
        /// A pipe that wakes the completion thread: read end, write end.
        let wake: Int32
        let wakeWrite: Int32
    }

    /// Memory of the caller's that a one-sided write sends from (registered; kept alive by `owner`).
    struct LocalMemory: @unchecked Sendable {  // a pointer into registered memory that `owner` keeps alive
        let address: UnsafeRawPointer
        let count: Int
        let lkey: UInt32
        let owner: (any Sendable)?
    }

    struct Outgoing {
        var message: RDMAMessage
        var write: (LocalMemory, RDMAMessage.Remote)?
        /// Hands back a credit held for a request with this message.
        var returnsCredit = false
        var onSent: (@Sendable (Bool) -> Void)?
    }

    struct State {
        var credits: Int
        var owed = 0
        var freeSendSlots: [Int]
        var queue: [Outgoing] = []
        var queueHead = 0
        var inFlightSends: [Int: Outgoing] = [:]
        var reads: [UInt64: @Sendable (Bool) -> Void] = [:]
        var nextRead: UInt64 = 1
        var closedReason: String?
        var delegate: (any RDMAChannelDelegate)?
    }

    let handles: Handles
    let device: Int
    let depth: Int
    let slotBytes: Int
    let maxPayload: Int
    let label: String
    let logger: Logger
    /// Receive slots first, then send slots; registered, so `lkey` covers all of them.
    let slots: IOBuffer
    let lkey: UInt32
    private let state: Mutex<State>

    static let recvTag: UInt64 = 1 << 62
    static let sendTag: UInt64 = 2 << 62
    static let readTag: UInt64 = 3 << 62
    static let tagMask: UInt64 = 3 << 62

    /// Creates the completion queue, queue pair and slots on `id` (already bound to a device) and
    /// posts every receive slot. The caller then connects or accepts, and calls `start`.
    init(id: UnsafeMutablePointer<rdma_cm_id>, cmChannel: UnsafeMutablePointer<rdma_event_channel>, context: RDMAContext,
         pool: IOBufferPool, depth: Int, slotBytes: Int, maxPayload: Int, label: String, logger: Logger) throws(TransportError) {
        func fail(_ what: String) -> TransportError { .rdmaUnavailable(reason: "\(what) for \(label): \(String(cString: strerror(errno)))") }
        guard let (index, dev) = context.device(for: id.pointee.verbs) else {
            throw .rdmaUnavailable(reason: "the connection to \(label) resolved to a device this process did not open")
        }
        let buffer: IOBuffer
        do {
            guard let b = try pool.tryTake(2 * depth * slotBytes) else {
                throw TransportError.rdmaUnavailable(reason: "no registered memory left for the slots of a connection to \(label)")
            }
            buffer = b
        } catch let e as TransportError { throw e } catch { throw .rdmaUnavailable(reason: "slots for \(label): \(error)") }
        guard let base = buffer.bytes.baseAddress, let keys = context.keys(for: base, count: buffer.count, device: index) else {
            throw .rdmaUnavailable(reason: "the slot memory for \(label) is not registered with \(dev.name)")
        }
        guard let comp = ibv_create_comp_channel(dev.verbs) else { throw fail("ibv_create_comp_channel") }
        guard let cq = ibv_create_cq(dev.verbs, Int32(4 * depth + 64), nil, comp, 0) else {
            ibv_destroy_comp_channel(comp)
            throw fail("ibv_create_cq")
        }
        var attr = ibv_qp_init_attr()
        attr.send_cq = cq
        attr.recv_cq = cq
        attr.qp_type = IBV_QPT_RC
        attr.sq_sig_all = 0
        attr.cap.max_send_wr = UInt32(3 * depth + 32)
        attr.cap.max_recv_wr = UInt32(depth)
        attr.cap.max_send_sge = 1
        attr.cap.max_recv_sge = 1
        guard rdma_create_qp(id, dev.pd, &attr) == 0, let qp = id.pointee.qp else {
            ibv_destroy_cq(cq)
            ibv_destroy_comp_channel(comp)
            throw fail("rdma_create_qp")
        }
        var pipeFDs: [Int32] = [-1, -1]
        _ = pipe(&pipeFDs)
        for fd in [comp.pointee.fd, cmChannel.pointee.fd, pipeFDs[0], pipeFDs[1]] {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)  // child processes must not hold the connection open
        }
        handles = Handles(id: id, cmChannel: cmChannel, compChannel: comp, cq: cq, qp: qp, wake: pipeFDs[0], wakeWrite: pipeFDs[1])
        self.device = index
        self.depth = depth
        self.slotBytes = slotBytes
        self.maxPayload = maxPayload
        self.label = label
        self.logger = logger
        self.slots = buffer
        self.lkey = keys.lkey
        state = Mutex(State(credits: depth, freeSendSlots: Array((0..<depth).reversed())))
        for i in 0..<depth where !postReceive(slot: i) {
            let e = fail("ibv_post_recv")
            destroy()
            throw e
        }
    }

    /// The most a frame's payload may be to travel inline in one slot.
    var inlineLimit: Int { slotBytes - RDMAMessage.overheadBytes }

    func setDelegate(_ d: any RDMAChannelDelegate) { state.withLock { $0.delegate = d } }

    var isOpen: Bool { state.withLock { $0.closedReason == nil } }

    /// Starts the completion thread.
    func start() {
        let t = Thread { [self] in run() }
        t.name = "granary-rdma \(label)"
        t.start()
    }

    private func slotPointer(_ i: Int) -> UnsafeMutableRawPointer {
        // Slots are laid out inside `slots`, which is at least 2 * depth * slotBytes long.
        slots.bytes.baseAddress.unsafelyUnwrapped + i * slotBytes
    }

    private func postReceive(slot i: Int) -> Bool {
        var sge = ibv_sge(addr: UInt64(UInt(bitPattern: slotPointer(i))), length: UInt32(slotBytes), lkey: lkey)
        return withUnsafeMutablePointer(to: &sge) { sgp in
            var wr = ibv_recv_wr(wr_id: Self.recvTag | UInt64(i), next: nil, sg_list: sgp, num_sge: 1)
            var bad: UnsafeMutablePointer<ibv_recv_wr>?
            return ibv_post_recv(handles.qp, &wr, &bad) == 0
        }
    }

    // MARK: Sending

    /// Queues `message` (the channel fills in the credits it returns). Returns false, after calling
    /// `onSent(false)`, when the channel is closed.
    @discardableResult
    func send(_ message: RDMAMessage, write: (LocalMemory, RDMAMessage.Remote)? = nil, returnsCredit: Bool = false,
              onSent: (@Sendable (Bool) -> Void)? = nil) -> Bool {
        let accepted = state.withLock { s -> Bool in
            guard s.closedReason == nil else { return false }
            s.queue.append(Outgoing(message: message, write: write, returnsCredit: returnsCredit, onSent: onSent))
            pump(&s)
            return true
        }
        if !accepted { onSent?(false) }
        return accepted
    }

    /// Posts queued messages while the peer has room and a send slot is free. Called under the lock,
    /// so messages go out in the order they were queued and each write precedes its message.
    private func pump(_ s: inout State) {
        guard s.closedReason == nil else { return }
        while s.queueHead < s.queue.count, let slot = s.freeSendSlots.last {
            // The last credit is kept for returning credits, so neither side can run dry waiting.
            guard s.credits >= 2 else { break }
            var o = s.queue[s.queueHead]
            s.queue[s.queueHead] = Outgoing(message: RDMAMessage(kind: .credits))
            s.queueHead += 1
            if o.returnsCredit { s.owed += 1 }
            s.freeSendSlots.removeLast()
            s.credits -= 1
            post(&o, slot: slot, state: &s)
        }
        if s.queueHead == s.queue.count { s.queue.removeAll(keepingCapacity: true); s.queueHead = 0 }
        // Return credits on their own when there is nothing to carry them and enough have piled up
        // (a threshold above one, so two idle sides do not bounce credit messages forever).
        if s.owed >= max(2, depth / 4), s.queue.isEmpty, s.credits >= 1, let slot = s.freeSendSlots.last {
            s.freeSendSlots.removeLast()
            s.credits -= 1
            var o = Outgoing(message: RDMAMessage(kind: .credits))
            post(&o, slot: slot, state: &s)
        }
    }

    private func post(_ o: inout Outgoing, slot: Int, state s: inout State) {
        o.message.credits = UInt16(clamping: s.owed)
        s.owed -= Int(o.message.credits)
        let bytes = o.message.encoded()
        let p = slotPointer(depth + slot)
        guard bytes.count <= slotBytes else {
            // Callers split payloads at `inlineLimit`; reaching this is a bug, not input.
            s.freeSendSlots.append(slot)
            s.credits += 1
            o.onSent?(false)
            logger.error("RDMA message of \(bytes.count) bytes exceeds the \(slotBytes)-byte slot to \(label); dropped")
            return
        }
        bytes.withUnsafeBytes { p.copyMemory(from: $0.baseAddress.unsafelyUnwrapped, byteCount: bytes.count) }
        var sendSge = ibv_sge(addr: UInt64(UInt(bitPattern: p)), length: UInt32(bytes.count), lkey: lkey)
        var ok: Bool
        if let (local, remote) = o.write {
            var writeSge = ibv_sge(addr: UInt64(UInt(bitPattern: local.address)), length: UInt32(local.count), lkey: local.lkey)
            ok = withUnsafeMutablePointer(to: &sendSge) { sp in
                withUnsafeMutablePointer(to: &writeSge) { wp in
                    var sendWR = ibv_send_wr()
                    sendWR.wr_id = Self.sendTag | UInt64(slot)
                    sendWR.sg_list = sp
                    sendWR.num_sge = 1
                    sendWR.opcode = IBV_WR_SEND
                    sendWR.send_flags = IBV_SEND_SIGNALED.rawValue
                    return withUnsafeMutablePointer(to: &sendWR) { swp in
                        var writeWR = ibv_send_wr()
                        writeWR.wr_id = 0
                        writeWR.next = swp
                        writeWR.sg_list = wp
                        writeWR.num_sge = 1
                        writeWR.opcode = IBV_WR_RDMA_WRITE
                        writeWR.wr.rdma.remote_addr = remote.address
                        writeWR.wr.rdma.rkey = remote.rkey
                        var bad: UnsafeMutablePointer<ibv_send_wr>?
                        return ibv_post_send(handles.qp, &writeWR, &bad) == 0
                    }
                }
            }
        } else {
            ok = withUnsafeMutablePointer(to: &sendSge) { sp in
                var wr = ibv_send_wr()
                wr.wr_id = Self.sendTag | UInt64(slot)
                wr.sg_list = sp
                wr.num_sge = 1
                wr.opcode = IBV_WR_SEND
                wr.send_flags = IBV_SEND_SIGNALED.rawValue
                var bad: UnsafeMutablePointer<ibv_send_wr>?
                return ibv_post_send(handles.qp, &wr, &bad) == 0
            }
        }
        if ok {
            s.inFlightSends[slot] = o
        } else {
            s.freeSendSlots.append(slot)
            o.onSent?(false)
            closeLocked(&s, reason: "ibv_post_send failed: \(String(cString: strerror(errno)))")
        }
    }

    // MARK: One-sided reads

    /// Reads `remote` into registered local memory with one RDMA READ and waits for it. Blocks:
    /// never call it on the completion thread.
    func fetch(_ remote: RDMAMessage.Remote, into local: UnsafeMutableRawBufferPointer, lkey: UInt32) -> Bool {
        let done = DispatchSemaphore(value: 0)
        let result = Mutex(false)
        let posted = state.withLock { s -> Bool in
            guard s.closedReason == nil else { return false }
            let n = s.nextRead
            s.nextRead += 1
            var sge = ibv_sge(addr: UInt64(UInt(bitPattern: local.baseAddress)), length: UInt32(local.count), lkey: lkey)
            let ok = withUnsafeMutablePointer(to: &sge) { sp in
                var wr = ibv_send_wr()
                wr.wr_id = Self.readTag | n
                wr.sg_list = sp
                wr.num_sge = 1
                wr.opcode = IBV_WR_RDMA_READ
                wr.send_flags = IBV_SEND_SIGNALED.rawValue
                wr.wr.rdma.remote_addr = remote.address
                wr.wr.rdma.rkey = remote.rkey
                var bad: UnsafeMutablePointer<ibv_send_wr>?
                return ibv_post_send(handles.qp, &wr, &bad) == 0
            }
            guard ok else { return false }
            s.reads[n] = { ok in result.withLock { $0 = ok }; done.signal() }
            return true
        }
        guard posted else { return false }
        done.wait()
        return result.withLock { $0 }
    }

    // MARK: Closing

    /// Closes the channel: the queue pair goes to the error state at once (no more incoming
    /// writes), queued messages fail, and the completion thread drains and frees everything.
    func shutdown(reason: String) {
        state.withLock { closeLocked(&$0, reason: reason) }
    }

    private func closeLocked(_ s: inout State, reason: String) {
        guard s.closedReason == nil else { return }
        s.closedReason = reason
        var attr = ibv_qp_attr()
        attr.qp_state = IBV_QPS_ERR
        _ = ibv_modify_qp(handles.qp, &attr, Int32(IBV_QP_STATE.rawValue))
        _ = rdma_disconnect(handles.id)
        let queued = s.queue[s.queueHead...]
        s.queue = []
        s.queueHead = 0
        let delegate = s.delegate
        s.delegate = nil
        var one: UInt8 = 1
        _ = write(handles.wakeWrite, &one, 1)
        // Callbacks run after the lock is released, on another thread, so they may call back in.
        DispatchQueue.global().async { [self] in
            for o in queued { o.onSent?(false) }
            delegate?.channelClosed(self, reason: reason)
        }
    }

    // MARK: The completion thread

    private func run() {
        var wcs = [ibv_wc](repeating: ibv_wc(), count: 32)
        var fds = [pollfd(fd: handles.compChannel.pointee.fd, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: handles.cmChannel.pointee.fd, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: handles.wake, events: Int16(POLLIN), revents: 0)]
        var closedAt: Date?
        while true {
            let n = wcs.withUnsafeMutableBufferPointer { ibv_poll_cq(handles.cq, 32, $0.baseAddress) }
            if n > 0 {
                for i in 0..<Int(n) { complete(wcs[i]) }
                continue
            }
            if n < 0 { shutdown(reason: "ibv_poll_cq failed") }
            let (closed, outstanding) = state.withLock { s in (s.closedReason != nil, s.inFlightSends.count + s.reads.count) }
            if closed {
                if closedAt == nil { closedAt = Date() }
                // Flushed work requests complete with an error; wait for them (briefly) so no
                // callback is lost and no memory is freed while the device may still touch it.
                if outstanding == 0 || Date().timeIntervalSince(closedAt ?? Date()) > 2 { break }
            }
            _ = ibv_req_notify_cq(handles.cq, 0)
            let again = wcs.withUnsafeMutableBufferPointer { ibv_poll_cq(handles.cq, 32, $0.baseAddress) }
            if again > 0 {
                for i in 0..<Int(again) { complete(wcs[i]) }
                continue
            }
            for i in fds.indices { fds[i].revents = 0 }
            _ = poll(&fds, nfds_t(fds.count), closed ? 50 : -1)
            if fds[0].revents & Int16(POLLIN) != 0 {
                var cq: UnsafeMutablePointer<ibv_cq>?
                var ctx: UnsafeMutableRawPointer?
                if ibv_get_cq_event(handles.compChannel, &cq, &ctx) == 0 { ibv_ack_cq_events(handles.cq, 1) }
            }
            if fds[1].revents & Int16(POLLIN) != 0 { connectionEvent() }
            if fds[2].revents & Int16(POLLIN) != 0 {
                var v = [UInt8](repeating: 0, count: 64)
                _ = read(handles.wake, &v, 64)
            }
        }
        let leftover = state.withLock { s -> ([Outgoing], [@Sendable (Bool) -> Void]) in
            defer { s.inFlightSends = [:]; s.reads = [:] }
            return (Array(s.inFlightSends.values), Array(s.reads.values))
        }
        for o in leftover.0 { o.onSent?(false) }
        for r in leftover.1 { r(false) }
        destroy()
    }

    private func connectionEvent() {
        while let e = RDMAConnectionManager.takeEvent(handles.cmChannel) {
            let kind = e.kind
            switch kind {
            case RDMA_CM_EVENT_ESTABLISHED:
                let d = state.withLock { $0.delegate }
                d?.channelEstablished(self)
            case RDMA_CM_EVENT_DISCONNECTED:
                shutdown(reason: "peer disconnected")
            case RDMA_CM_EVENT_DEVICE_REMOVAL:
                shutdown(reason: "RDMA device removed")
            case RDMA_CM_EVENT_CONNECT_ERROR, RDMA_CM_EVENT_UNREACHABLE, RDMA_CM_EVENT_REJECTED:
                shutdown(reason: "connection failed: \(String(cString: rdma_event_str(kind)))")
            default:
                break
            }
        }
    }

    private func complete(_ wc: ibv_wc) {
        let tag = wc.wr_id & Self.tagMask
        let index = wc.wr_id & ~Self.tagMask
        let ok = wc.status == IBV_WC_SUCCESS
        if !ok && isOpen {
            shutdown(reason: "work request failed: \(String(cString: ibv_wc_status_str(wc.status)))")
        }
        switch tag {
        case Self.recvTag:
            guard ok else { return }
            let message: RDMAMessage
            do throws(WireError) {
                message = try RDMAMessage.decode(UnsafeRawBufferPointer(start: slotPointer(Int(index)), count: Int(wc.byte_len)), maxPayload: maxPayload)
            } catch {
                logger.warning("closing RDMA connection \(label): \(error)")
                shutdown(reason: "protocol error: \(error)")
                return
            }
            guard postReceive(slot: Int(index)) else {
                shutdown(reason: "ibv_post_recv failed: \(String(cString: strerror(errno)))")
                return
            }
            let delegate = state.withLock { s -> (any RDMAChannelDelegate)? in
                s.credits += Int(message.credits)
                // A request's credit is held until its answer goes out (see `send(returnsCredit:)`),
                // which bounds the requests a peer can have in flight to the receive depth.
                if !(message.kind == .frame && message.header.map({ !$0.isResponse }) == true) { s.owed += 1 }
                pump(&s)
                return s.delegate
            }
            if message.kind == .frame { delegate?.channel(self, received: message) }
        case Self.sendTag:
            let o = state.withLock { s -> Outgoing? in
                let o = s.inFlightSends.removeValue(forKey: Int(index))
                s.freeSendSlots.append(Int(index))
                pump(&s)
                return o
            }
            o?.onSent?(ok)
        case Self.readTag:
            let r = state.withLock { $0.reads.removeValue(forKey: index) }
            r?(ok)
        default:
            break  // an unsignaled write that failed: the error already closed the channel
        }
    }

    private func destroy() {
        rdma_destroy_qp(handles.id)
        ibv_destroy_cq(handles.cq)
        ibv_destroy_comp_channel(handles.compChannel)
        rdma_destroy_id(handles.id)
        rdma_destroy_event_channel(handles.cmChannel)
        close(handles.wake)
        close(handles.wakeWrite)
    }
}
