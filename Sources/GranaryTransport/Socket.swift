#if canImport(Glibc)
import Glibc
#endif
// The RDMA headers behind CVerbs include <sys/socket.h>, so in a whole-module (release) build the
// socket type constants (SOCK_STREAM, SOCK_CLOEXEC) resolve through CVerbs's Clang module rather
// than Glibc's, and are not found without it.
import CVerbs
import GranaryCore

/// A thin owner of one TCP socket descriptor: blocking I/O with `errno` surfaced as text, and the
/// few options Granary needs. Closing is idempotent and safe from any thread: the descriptor is
/// shut down first, which wakes a thread blocked in recv, and closed exactly once.
package final class Socket: Sendable {
    package let fd: Int32

    init(fd: Int32) { self.fd = fd }

    deinit { Glibc.close(fd) }

    /// Wakes blocked readers and writers; the descriptor itself closes at deinit, so no thread can
    /// ever use a number the kernel has reused for another file.
    package func shutdown() { _ = Glibc.shutdown(fd, Int32(SHUT_RDWR)) }

    package static func errorText(_ code: Int32 = errno) -> String { String(cString: strerror(code)) }


    /// Resolves `endpoint` to socket addresses (numeric hosts and names alike).
    static func resolve(_ endpoint: Endpoint, passive: Bool) throws(TransportError) -> [(family: Int32, addr: [UInt8])] {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        if passive { hints.ai_flags = AI_PASSIVE }
        var res: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(endpoint.host, String(endpoint.port), &hints, &res)
        guard rc == 0, let first = res else {
            let reason = String(cString: gai_strerror(rc))
            throw passive ? .listenFailed(endpoint, reason: reason) : .connectFailed(endpoint, reason: reason)
        }
        defer { freeaddrinfo(first) }
        var out: [(Int32, [UInt8])] = []
        var p: UnsafeMutablePointer<addrinfo>? = first
        while let ai = p {
            if let a = ai.pointee.ai_addr {
                out.append((ai.pointee.ai_family, Array(UnsafeRawBufferPointer(start: a, count: Int(ai.pointee.ai_addrlen)))))
            }
            p = ai.pointee.ai_next
        }
        return out
    }

    /// Connects with a timeout (non-blocking connect, then poll), returning a blocking socket.
    static func connect(_ endpoint: Endpoint, timeoutMs: Int) throws(TransportError) -> Socket {
        var lastError = "no address"
        for (family, addr) in try resolve(endpoint, passive: false) {
            let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { lastError = errorText(); continue }
            let s = Socket(fd: fd)
            let flags = fcntl(fd, F_GETFL)
            _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
            let rc = addr.withUnsafeBytes { Glibc.connect(fd, $0.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t($0.count)) }
            if rc != 0 {
                guard errno == EINPROGRESS else { lastError = errorText(); continue }
                var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                let n = poll(&pfd, 1, Int32(timeoutMs))
                if n == 0 { throw .connectTimeout(endpoint, ms: timeoutMs) }
                var err: Int32 = 0
                var len = socklen_t(MemoryLayout<Int32>.size)
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
                if n < 0 || err != 0 { lastError = errorText(n < 0 ? errno : err); continue }
            }
            _ = fcntl(fd, F_SETFL, flags)
            s.configure()
            return s
        }
        throw .connectFailed(endpoint, reason: lastError)
    }

    /// Binds and listens; port 0 picks a free port (see `localPort`).
    package static func listen(_ endpoint: Endpoint) throws(TransportError) -> Socket {
        var lastError = "no address"
        for (family, addr) in try resolve(endpoint, passive: true) {
            let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { lastError = errorText(); continue }
            let s = Socket(fd: fd)
            var one: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            let rc = addr.withUnsafeBytes { bind(fd, $0.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t($0.count)) }
            guard rc == 0 else { lastError = errorText(); continue }
            guard Glibc.listen(fd, 512) == 0 else { lastError = errorText(); continue }
            return s
        }
        throw .listenFailed(endpoint, reason: lastError)
    }

    /// Large socket buffers and no Nagle delay: requests are small and latency-bound, chunk
    /// responses large and bandwidth-bound.
    func configure() {
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var buf: Int32 = 4 << 20
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, socklen_t(MemoryLayout<Int32>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, socklen_t(MemoryLayout<Int32>.size))
    }

    var localPort: UInt16 {
        var ss = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let ok = withUnsafeMutablePointer(to: &ss) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        } == 0
        guard ok else { return 0 }
        let family = ss.ss_family
        return withUnsafePointer(to: &ss) { p -> UInt16 in
            if family == sa_family_t(AF_INET6) {
                return p.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin6_port) }
            }
            return p.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin_port) }
        }
    }

    /// Accepts one connection; `nil` when the listener was shut down.
    package func accept() -> (Socket, String)? {
        while true {
            var ss = sockaddr_storage()
            var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let c = withUnsafeMutablePointer(to: &ss) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.accept(fd, $0, &len) }
            }
            if c >= 0 {
                _ = fcntl(c, F_SETFD, FD_CLOEXEC)
                let s = Socket(fd: c)
                s.configure()
                return (s, Socket.describe(&ss))
            }
            switch errno {
            case EINTR, ECONNABORTED, EPROTO: continue
            case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                // Out of descriptors or memory: back off instead of spinning or giving up for good.
                usleep(50_000)
                continue
            default: return nil
            }
        }
    }

    static func describe(_ ss: inout sockaddr_storage) -> String {
        var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        var serv = [CChar](repeating: 0, count: Int(NI_MAXSERV))
        let rc = withUnsafePointer(to: &ss) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                getnameinfo($0, socklen_t(MemoryLayout<sockaddr_storage>.size), &host, socklen_t(host.count), &serv, socklen_t(serv.count), NI_NUMERICHOST | NI_NUMERICSERV)
            }
        }
        guard rc == 0 else { return "unknown peer" }
        return cText(host) + ":" + cText(serv)
    }

    static func cText(_ chars: [CChar]) -> String {
        String(decoding: chars.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Receive timeout for blocking reads (0 = none).
    package func setReceiveTimeout(ms: Int) {
        var tv = timeval(tv_sec: ms / 1000, tv_usec: (ms % 1000) * 1000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    package func setSendTimeout(ms: Int) {
        var tv = timeval(tv_sec: ms / 1000, tv_usec: (ms % 1000) * 1000)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    package enum IOResult: Equatable { case ok, eof(got: Int), failed(String) }

    /// Reads exactly `buffer.count` bytes.
    package func receive(into buffer: UnsafeMutableRawBufferPointer) -> IOResult {
        var got = 0
        while got < buffer.count {
            let n = recv(fd, buffer.baseAddress! + got, buffer.count - got, 0)
            if n > 0 { got += n; continue }
            if n == 0 { return .eof(got: got) }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK { return .failed("timed out") }
            return .failed(Socket.errorText())
        }
        return .ok
    }

    /// Writes all of `parts` in order with as few system calls as possible (one sendmsg with an
    /// iovec each), without SIGPIPE: a peer that hung up fails this send, not the process.
    package func send(_ parts: [UnsafeRawBufferPointer]) -> IOResult {
        var iov = parts.filter { $0.count > 0 }.map { iovec(iov_base: UnsafeMutableRawPointer(mutating: $0.baseAddress), iov_len: $0.count) }
        var index = 0
        while index < iov.count {
            let n = iov[index...].withUnsafeMutableBufferPointer { v in
                var m = msghdr()
                m.msg_iov = v.baseAddress
                m.msg_iovlen = min(v.count, 64)
                return sendmsg(fd, &m, Int32(MSG_NOSIGNAL))
            }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK { return .failed("send timed out") }
                return .failed(Socket.errorText())
            }
            var left = n
            while left > 0, index < iov.count {
                if left >= iov[index].iov_len {
                    left -= iov[index].iov_len
                    index += 1
                } else {
                    iov[index].iov_base += left
                    iov[index].iov_len -= left
                    left = 0
                }
            }
        }
        return .ok
    }
}
