import Logging

/// Parses log level names as written in configs and flags (`trace` … `critical`).
public enum LogLevelName {
    public static func parse(_ s: String) -> Logger.Level? { Logger.Level(rawValue: s.lowercased()) }
    public static let names = Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")
}
