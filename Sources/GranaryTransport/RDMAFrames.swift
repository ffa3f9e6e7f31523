import Dispatch
import GranaryBuffers
import GranaryWire
import Synchronization

/// Moves frames over one channel: inline when they fit a slot, otherwise staged in registered
/// memory for the peer to fetch with one-sided reads (rendezvous), and fetched the same way when
/// the peer stages one.
///
/// Guarantees: a staged payload stays registered and unchanged until the peer releases it or the
/// channel closes; a fetched payload is released to the peer once read, whatever the outcome.
final class RDMAFrames: Sendable {
    let channel: RDMAChannel
    let pool: IOBufferPool
    let context: RDMAContext
    let landingBytes: Int
    private let staged = Mutex<(next: UInt64, buffers: [UInt64: IOBuffer])>((1, [:]))
    /// Counts bytes copied into staging buffers (payloads that were not in registered memory).
    let counters: RDMATransport.CounterCells

    init(channel: RDMAChannel, pool: IOBufferPool, context: RDMAContext, landingBytes: Int, counters: RDMATransport.CounterCells) {
        self.counters = counters
        self.channel = channel
        self.pool = pool
        self.context = context
        self.landingBytes = landingBytes
    }

    /// The registered keys of `bytes` on this channel's device, if a pool arena holds them.
    func keys(_ bytes: UnsafeRawBufferPointer) -> (lkey: UInt32, rkey: UInt32)? {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return nil }
        return context.keys(for: base, count: bytes.count, device: channel.device)
    }

    /// The message carrying `header` with a payload of `parts` then `data`: inline when it fits,
    /// else staged (copied once into registered memory) for the peer to fetch.
    func message(_ header: FrameHeader, parts: [[UInt8]], data: UnsafeRawBufferPointer? = nil,
                 target: RDMAMessage.Remote? = nil) -> Result<RDMAMessage, RDMAFailure> {
        let length = parts.reduce(0) { $0 + $1.count } + (data?.count ?? 0)
        var m = RDMAMessage(kind: .frame)
        m.header = header
        m.target = target
        if length <= channel.inlineLimit {
            var payload: [UInt8] = []
            payload.reserveCapacity(length)
            for p in parts { payload += p }
            if let data { payload += data }
            m.payload = payload
            return .success(m)
        }
        let buffer: IOBuffer
        do {
            guard let b = try pool.tryTake(length) else { return .failure(.init(reason: "registered staging memory exhausted (\(length) bytes asked)")) }
            buffer = b
        } catch {
            return .failure(.init(reason: "cannot stage \(length) bytes: \(error)"))
        }
        var at = 0
        let out = buffer.bytes
        for p in parts {
            p.withUnsafeBytes { out.baseAddress.unsafelyUnwrapped.advanced(by: at).copyMemory(from: $0.baseAddress.unsafelyUnwrapped, byteCount: p.count) }
            at += p.count
        }
        if let data, data.count > 0 {
            out.baseAddress.unsafelyUnwrapped.advanced(by: at).copyMemory(from: data.baseAddress.unsafelyUnwrapped, byteCount: data.count)
        }
        counters.staged.add(length, ordering: .relaxed)
        guard let k = keys(UnsafeRawBufferPointer(out)) else { return .failure(.init(reason: "staging buffer is not registered")) }
        let token = staged.withLock { s -> UInt64 in
            let t = s.next
            s.next += 1
            s.buffers[t] = buffer
            return t
        }
        m.token = token
        m.rendezvous = RDMAMessage.Remote(address: UInt64(UInt(bitPattern: out.baseAddress)), rkey: k.rkey, length: UInt32(length))
        return .success(m)
    }

    /// The peer has fetched a staged payload.
    func release(_ token: UInt64) { _ = staged.withLock { $0.buffers.removeValue(forKey: token) } }

    /// Drops every staged payload (the channel has closed, so nobody can fetch them).
    func releaseAll() { staged.withLock { $0.buffers.removeAll() } }

    /// The payload of `m`: inline, or fetched from the peer in landing-sized pieces and then
    /// released. Blocks while fetching: call it off the completion thread. Nil when the fetch
    /// failed (the channel is closing).
    func payload(of m: RDMAMessage) -> [UInt8]? {
        guard let r = m.rendezvous else { return m.payload }
        defer { channel.send(RDMAMessage(kind: .release, token: m.token)) }
        let total = Int(r.length)
        var out = [UInt8](repeating: 0, count: total)
        let piece = min(total, landingBytes)
        guard let landing = try? pool.tryTake(piece), let k = keys(UnsafeRawBufferPointer(landing.bytes)) else { return nil }
        var at = 0
        while at < total {
            let n = min(piece, total - at)
            let remote = RDMAMessage.Remote(address: r.address + UInt64(at), rkey: r.rkey, length: UInt32(n))
            let dest = UnsafeMutableRawBufferPointer(rebasing: landing.bytes[0..<n])
            guard channel.fetch(remote, into: dest, lkey: k.lkey) else { return nil }
            out.withUnsafeMutableBytes { $0.baseAddress.unsafelyUnwrapped.advanced(by: at).copyMemory(from: dest.baseAddress.unsafelyUnwrapped, byteCount: n) }
            at += n
        }
        return out
    }

    /// A queue for work that waits on the network (fetches), off the completion thread.
    static let fetchQueue = DispatchQueue(label: "granary-rdma-fetch", attributes: .concurrent)
}
