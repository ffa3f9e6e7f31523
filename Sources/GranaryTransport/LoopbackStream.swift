import Foundation
import Synchronization
import GranaryCore

/// Loopback helpers for benchmarks and local clusters: a raw TCP stream between two sockets (the
/// baseline a transport benchmark compares against) and free-port discovery.
public enum LoopbackStream {
    /// Streams `totalBytes` from one socket to another over 127.0.0.1, one `chunk` per write, the
    /// receiver reading into one reused buffer; returns the elapsed seconds. The sender cycles
    /// through `copies` separate copies of `chunk`, so that it reads as much distinct memory as a
    /// server holding that many chunks does (with 1, it re-sends one buffer that never leaves its
    /// CPU cache, which no server serving a data set gets to do).
    public static func measure(totalBytes: Int, chunk: [UInt8], copies: Int = 1) throws(TransportError) -> Double {
        let chunkSize = chunk.count
        let listener = try Socket.listen(Endpoint(host: "127.0.0.1", port: 0))
        let endpoint = Endpoint(host: "127.0.0.1", port: listener.localPort)
        let sender = Thread {
            guard let (s, _) = listener.accept() else { return }
            let bufs = (0..<max(copies, 1)).map { _ in
                let b = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 4096)
                chunk.withUnsafeBytes { b.copyMemory(from: $0) }
                return b
            }
            defer { bufs.forEach { $0.deallocate() } }
            var left = totalBytes
            var i = 0
            while left > 0 {
                let n = min(left, chunkSize)
                guard s.send([UnsafeRawBufferPointer(rebasing: bufs[i % bufs.count][0..<n])]) == .ok else { return }
                left -= n
                i += 1
            }
        }
        sender.start()
        let receiver = try Socket.connect(endpoint, timeoutMs: 3000)
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 4096)
        defer { buf.deallocate() }
        let start = DispatchTime.now().uptimeNanoseconds
        var left = totalBytes
        while left > 0 {
            let n = min(left, chunkSize)
            guard receiver.receive(into: UnsafeMutableRawBufferPointer(rebasing: buf[0..<n])) == .ok else {
                throw .connectionClosed(endpoint, reason: "baseline stream ended early")
            }
            left -= n
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        listener.shutdown()
        return seconds
    }

    /// A TCP port on `host` that is free right now, for a process started next to listen on.
    ///
    /// It is taken from just below the kernel's ephemeral range
    /// (`/proc/sys/net/ipv4/ip_local_port_range`), never from inside it: between this call and the
    /// other process's `bind`, any outgoing connection on the machine may be given an ephemeral
    /// port, and a daemon that lost its port that way fails to start (a node missing from a test
    /// cluster, seen once in CI). Ports below the range are only ever bound on purpose. The same
    /// port is not handed out twice by one process, so that two daemons started together never
    /// race each other for it.
    public static func freePort(host: String = "127.0.0.1") throws(TransportError) -> UInt16 {
        let (low, high) = portWindow()
        let count = high - low
        let start = Int.random(in: 0..<count)
        for i in 0..<count {
            let port = UInt16(low + (start + i) % count)
            let fresh = handedOut.withLock { $0.insert(port).inserted }
            guard fresh else { continue }
            if let s = try? Socket.listen(Endpoint(host: host, port: port)) {
                s.shutdown()
                return port
            }
        }
        // Every port of the window is taken or was handed out: let the kernel pick one.
        let s = try Socket.listen(Endpoint(host: host, port: 0))
        defer { s.shutdown() }
        return s.localPort
    }

    /// Ports this process has returned from `freePort`.
    private static let handedOut = Mutex<Set<UInt16>>([])

    /// Up to 8,192 ports ending just below the ephemeral range (20,000–32,767 when it cannot be read).
    static func portWindow() -> (low: Int, high: Int) {
        let text = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)) ?? ""
        let ephemeralLow = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).first.flatMap { Int($0) } ?? 32_768
        let high = max(ephemeralLow, 2_048)
        return (max(1_024, high - 8_192), high)
    }
}
