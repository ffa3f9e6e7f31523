import Foundation
import GranaryCore

/// Loopback helpers for benchmarks and local clusters: a raw TCP stream between two sockets (the
/// baseline a transport benchmark compares against) and free-port discovery.
public enum LoopbackStream {
    /// Streams `totalBytes` from one socket to another over 127.0.0.1 in `chunkSize` writes, the
    /// receiver reading into one reused buffer. Returns the elapsed seconds.
    public static func measure(totalBytes: Int, chunkSize: Int) throws(TransportError) -> Double {
        let listener = try Socket.listen(Endpoint(host: "127.0.0.1", port: 0))
        let endpoint = Endpoint(host: "127.0.0.1", port: listener.localPort)
        let sender = Thread {
            guard let (s, _) = listener.accept() else { return }
            let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 4096)
            defer { buf.deallocate() }
            buf.initializeMemory(as: UInt8.self, repeating: 0x5A)
            var left = totalBytes
            while left > 0 {
                let n = min(left, chunkSize)
                guard s.send([UnsafeRawBufferPointer(rebasing: buf[0..<n])]) == .ok else { return }
                left -= n
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

    /// A TCP port on `host` that is free right now (the kernel picks it).
    public static func freePort(host: String = "127.0.0.1") throws(TransportError) -> UInt16 {
        let s = try Socket.listen(Endpoint(host: host, port: 0))
        defer { s.shutdown() }
        return s.localPort
    }
}
