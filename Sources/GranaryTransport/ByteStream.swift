/// A connected, blocking byte stream the frame layer reads and writes: a plain TCP `Socket`, or a
/// `TLSStream` over one.
///
/// Guarantees of every implementation: `receive` fills the whole buffer or says why not; `send`
/// writes every part in order or fails; one reader and any number of writers (serialised by the
/// caller) may use it at once; `shutdown` from any thread wakes both and fails what follows.
package protocol ByteStream: Sendable {
    func receive(into buffer: UnsafeMutableRawBufferPointer) -> Socket.IOResult
    func discard(_ count: Int) -> Socket.IOResult
    func send(_ parts: [UnsafeRawBufferPointer]) -> Socket.IOResult
    func shutdown()
    /// 0: wait for ever.
    func setReceiveTimeout(ms: Int)
    func setSendTimeout(ms: Int)
}

extension ByteStream {
    /// Reads and throws away `count` bytes (a response nobody waits for any more).
    package func discard(_ count: Int) -> Socket.IOResult {
        var scratch = [UInt8](repeating: 0, count: min(count, 256 << 10))
        var left = count
        while left > 0 {
            let n = min(left, scratch.count)
            let r = scratch.withUnsafeMutableBytes { receive(into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<n])) }
            guard r == .ok else { return r }
            left -= n
        }
        return .ok
    }
}

extension Socket: ByteStream {}
