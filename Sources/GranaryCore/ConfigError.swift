/// Why a configuration file was refused. Every case names the file and the key or path at fault.
public enum ConfigError: Error, Equatable, Sendable, CustomStringConvertible {
    case unreadable(file: String, reason: String)
    case syntax(file: String, line: Int, column: Int, reason: String)
    case unknownKey(file: String, key: String)
    case missingKey(file: String, key: String)
    case badValue(file: String, key: String, value: String, expected: String)
    case missingDirectory(file: String, key: String, path: String)
    case unsafePermissions(file: String, mode: String, problem: PermissionProblem)

    /// What an unsafe mode lets other users do.
    public enum PermissionProblem: Sendable, Equatable {
        /// A file holding a secret (the cluster secret, a TLS key, a config with a database
        /// password) that group or others can read.
        case readableByOthers
        /// A config that group or others can change, and so change what the daemon runs and trusts.
        case writableByOthers
    }

    public var description: String {
        switch self {
        case let .unreadable(file, reason): return "\(file): cannot read: \(reason)"
        case let .syntax(file, line, column, reason): return "\(file):\(line):\(column): TOML syntax error: \(reason)"
        case let .unknownKey(file, key): return "\(file): unknown key '\(key)'"
        case let .missingKey(file, key): return "\(file): missing required key '\(key)'"
        case let .badValue(file, key, value, expected):
            return "\(file): bad value for '\(key)': \(value) (expected \(expected))"
        case let .missingDirectory(file, key, path):
            return "\(file): '\(key)' names '\(path)', which is not an existing directory"
        case let .unsafePermissions(file, mode, .readableByOthers):
            return "\(file): mode \(mode) lets other users read a secret in it; run chmod 600 \(file)"
        case let .unsafePermissions(file, mode, .writableByOthers):
            return "\(file): mode \(mode) lets other users change it; run chmod go-w \(file)"
        }
    }
}
