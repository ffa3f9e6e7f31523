import Foundation

/// A self-signed certificate for 127.0.0.1, made with the `openssl` command for one benchmark run
/// (`granary bench transport`'s TLS row); it is its own CA.
enum BenchCertificate {
    /// Writes `tls-bench.pem` and `tls-bench.key` (mode 0600) into `dir`; returns their paths.
    static func make(in dir: String) throws -> (cert: String, key: String) {
        let cert = dir + "/tls-bench.pem", key = dir + "/tls-bench.key"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        p.arguments = ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                       "-days", "1", "-subj", "/CN=granary-bench", "-addext", "subjectAltName=IP:127.0.0.1"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch {
            throw CLIError("bench transport: cannot run /usr/bin/openssl for the TLS row (install Debian's openssl, or pass --no-tls): \(error)")
        }
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw CLIError("bench transport: openssl could not make a certificate (exit \(p.terminationStatus)); pass --no-tls to skip the TLS row") }
        chmod(key, 0o600)
        return (cert, key)
    }
}
