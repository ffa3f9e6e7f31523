#if canImport(Glibc)
import Glibc
#endif
import COpenSSL
import GranaryCore
import Synchronization

/// A TLS session over one TCP socket, with the same blocking contract as `Socket`.
///
/// The connection's reader thread and its writers use the stream at once, but one OpenSSL session
/// must never be entered by two threads together. So the socket is non-blocking, every OpenSSL
/// call runs under `lock` and returns at once, and a thread that must wait for the socket
/// (`WANT_READ`, `WANT_WRITE`) releases the lock and waits in `poll`: a reader blocked on an idle
/// connection never holds up a writer. Timeouts apply to each wait, as SO_RCVTIMEO does for a plain
/// socket; `shutdown` wakes every waiter through the socket.
package final class TLSStream: ByteStream, @unchecked Sendable {
    // @unchecked: `ssl` is the one non-Sendable member, and it is only touched under `lock` (and in
    // deinit, when no other reference exists).
    let socket: Socket
    private let ssl: OpaquePointer
    private let lock = Mutex(())
    private let receiveTimeoutMs = Atomic<Int>(0)
    private let sendTimeoutMs = Atomic<Int>(0)

    init(socket: Socket, ssl: OpaquePointer) {
        self.socket = socket
        self.ssl = ssl
        _ = fcntl(socket.fd, F_SETFL, fcntl(socket.fd, F_GETFL) | O_NONBLOCK)
        SSL_set_fd(ssl, socket.fd)
        _ = granary_ssl_set_modes(ssl)
    }

    deinit { SSL_free(ssl) }

    package func shutdown() { socket.shutdown() }
    package func setReceiveTimeout(ms: Int) { receiveTimeoutMs.store(ms, ordering: .relaxed) }
    package func setSendTimeout(ms: Int) { sendTimeoutMs.store(ms, ordering: .relaxed) }

    /// One OpenSSL call's outcome: its return value and, when it did not succeed, SSL_get_error.
    private struct Step { var rc: Int32; var error: Int32; var errnoValue: Int32; var detail: String }

    private func step(_ call: (OpaquePointer) -> Int32) -> Step {
        lock.withLock { _ in
            ERR_clear_error()
            let rc = call(ssl)
            let saved = errno
            if rc == 1 { return Step(rc: rc, error: SSL_ERROR_NONE, errnoValue: 0, detail: "") }
            let e = SSL_get_error(ssl, rc)
            let detail = e == SSL_ERROR_SSL ? TLSContext.errorText() : ""
            return Step(rc: rc, error: e, errnoValue: saved, detail: detail)
        }
    }

    /// Waits until the socket can be read or written; false on timeout or a poll failure.
    private func wait(for error: Int32, timeoutMs: Int) -> Bool {
        var pfd = pollfd(fd: socket.fd, events: Int16(error == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN), revents: 0)
        while true {
            let n = poll(&pfd, 1, timeoutMs > 0 ? Int32(timeoutMs) : -1)
            if n > 0 { return true }
            if n == 0 { return false }
            if errno != EINTR { return false }
        }
    }

    /// Runs the handshake; nil when done, else why it failed.
    func handshake(client: Bool, timeoutMs: Int) -> String? {
        while true {
            let s = step { client ? SSL_connect($0) : SSL_accept($0) }
            switch s.error {
            case SSL_ERROR_NONE: return nil
            case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
                guard wait(for: s.error, timeoutMs: timeoutMs) else { return "no answer within \(timeoutMs) ms" }
            case SSL_ERROR_SSL:
                let verify = lock.withLock { _ in SSL_get_verify_result(ssl) }
                if verify != X509_V_OK {
                    return "the peer's certificate was refused: " + String(cString: lock.withLock { _ in granary_x509_verify_text(ssl) })
                }
                return s.detail
            case SSL_ERROR_SYSCALL, SSL_ERROR_ZERO_RETURN:
                return s.errnoValue == 0 ? "the peer closed the connection during the handshake" : Socket.errorText(s.errnoValue)
            default: return "OpenSSL error \(s.error)"
            }
        }
    }

    package func receive(into buffer: UnsafeMutableRawBufferPointer) -> Socket.IOResult {
        var got = 0
        while got < buffer.count {
            var n = 0
            let s = step { SSL_read_ex($0, buffer.baseAddress! + got, buffer.count - got, &n) }
            got += n
            switch s.error {
            case SSL_ERROR_NONE: continue
            case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
                guard wait(for: s.error, timeoutMs: receiveTimeoutMs.load(ordering: .relaxed)) else { return .failed("timed out") }
            case SSL_ERROR_ZERO_RETURN: return .eof(got: got)
            case SSL_ERROR_SYSCALL: return s.errnoValue == 0 ? .eof(got: got) : .failed(Socket.errorText(s.errnoValue))
            default: return .failed("TLS: \(s.detail)")
            }
        }
        return .ok
    }

    /// Writes the parts in order. Small parts (frame headers and heads) are gathered into one
    /// record with what follows them, since TLS has no writev; large ones go out as they are.
    package func send(_ parts: [UnsafeRawBufferPointer]) -> Socket.IOResult {
        var gathered: [UInt8] = []
        for part in parts where part.count > 0 {
            if part.count < 16 << 10 {
                gathered.append(contentsOf: part)
                continue
            }
            if !gathered.isEmpty {
                let r = gathered.withUnsafeBytes { write($0) }
                guard r == .ok else { return r }
                gathered.removeAll(keepingCapacity: true)
            }
            let r = write(part)
            guard r == .ok else { return r }
        }
        return gathered.isEmpty ? .ok : gathered.withUnsafeBytes { write($0) }
    }

    private func write(_ bytes: UnsafeRawBufferPointer) -> Socket.IOResult {
        var sent = 0
        while sent < bytes.count {
            var n = 0
            let s = step { SSL_write_ex($0, bytes.baseAddress! + sent, bytes.count - sent, &n) }
            sent += n
            switch s.error {
            case SSL_ERROR_NONE: continue
            case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
                guard wait(for: s.error, timeoutMs: sendTimeoutMs.load(ordering: .relaxed)) else { return .failed("send timed out") }
            case SSL_ERROR_SYSCALL: return .failed(s.errnoValue == 0 ? "connection closed" : Socket.errorText(s.errnoValue))
            default: return .failed("TLS: \(s.detail)")
            }
        }
        return .ok
    }
}
