import Foundation

/// What an external tool (GNU tar, python3) printed and returned.
struct ToolResult: Sendable {
    var status: Int32
    var output: Data
    var errorText: String

    var outputText: String { String(decoding: output, as: UTF8.self) }
}
