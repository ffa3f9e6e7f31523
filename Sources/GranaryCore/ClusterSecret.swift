#if canImport(Glibc)
import Glibc
#endif

/// The shared cluster secret every connection must prove it knows (HMAC challenge–response).
///
/// Guarantees 32 bytes from the system CSPRNG when generated; stored as hex in a file of mode 0600;
/// `load` refuses a file other users can read. `description` never shows the bytes, so a secret
/// printed by mistake in a log or `--json` output leaks nothing.
public struct ClusterSecret: Sendable, Equatable, CustomStringConvertible {
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) { self.bytes = bytes }

    /// 32 fresh random bytes (`SystemRandomNumberGenerator` reads getrandom(2) on Linux).
    public static func generate() -> ClusterSecret {
        var rng = SystemRandomNumberGenerator()
        return ClusterSecret(bytes: (0..<32).map { _ in UInt8.random(in: 0...255, using: &rng) })
    }

    public var description: String { "ClusterSecret(redacted)" }

    public var hex: String { bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined() }

    /// Why a secret file could not be used.
    public enum Failure: Error, Equatable, Sendable, CustomStringConvertible {
        case io(FileIO.Failure)
        case unsafeMode(path: String, mode: String)
        case malformed(path: String)
        case malformedLine(path: String, line: Int, reason: String)
        case exists(path: String)

        public var description: String {
            switch self {
            case let .io(f): return "cluster secret: \(f)"
            case let .unsafeMode(path, mode):
                return "cluster secret \(path) has mode \(mode): other users can read it; run chmod 600 \(path)"
            case let .malformed(path): return "cluster secret \(path) is not 64 hex digits (generate one with `granary cluster init`)"
            case let .malformedLine(path, line, reason): return "cluster secret \(path):\(line): \(reason)"
            case let .exists(path): return "cluster secret \(path) already exists; pass --force to replace it (every node must then get the new one)"
            }
        }
    }

    /// Reads a secret file's current secret, refusing a file that group or others can read.
    public static func load(path: String) throws(Failure) -> ClusterSecret {
        try loadKeyring(path: path).current
    }

    /// Reads every secret of a secret file (see `ClusterKeyring`), refusing a file that group or
    /// others can read.
    public static func loadKeyring(path: String) throws(Failure) -> ClusterKeyring {
        let mode: mode_t
        do { mode = try FileIO.mode(path) } catch { throw .io(error) }
        guard mode & 0o077 == 0 else { throw .unsafeMode(path: path, mode: String(mode & 0o7777, radix: 8)) }
        let text: String
        do { text = try FileIO.readString(path) } catch { throw .io(error) }
        return try ClusterKeyring.parse(text, path: path)
    }

    /// Parses 64 hex digits.
    public init?(hex: String) {
        let digits = Array(hex.utf8)
        guard digits.count == 64 else { return nil }
        var bytes: [UInt8] = []
        for i in stride(from: 0, to: 64, by: 2) {
            guard let b = UInt8(String(decoding: digits[i..<i + 2], as: UTF8.self), radix: 16) else { return nil }
            bytes.append(b)
        }
        self.bytes = bytes
    }

    /// Writes the secret with mode 0600; refuses to replace an existing file unless `overwrite`.
    public func save(path: String, overwrite: Bool = false) throws(Failure) {
        if !overwrite, FileIO.exists(path) { throw .exists(path: path) }
        do { try FileIO.writeAtomically(path, hex + "\n", mode: 0o600) } catch { throw .io(error) }
    }
}
