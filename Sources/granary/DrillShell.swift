import Foundation

/// Runs the system commands a drill needs (`ip`, `mount`, `umount`) and waits for them.
enum DrillShell {
    /// Runs `args` (the first is the program, an absolute path) and returns its output; throws it
    /// with the status when the command fails.
    @discardableResult
    static func run(_ args: [String]) throws(DrillError) -> String {
        guard let program = args.first else { throw .setup("internal: empty command") }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: program)
        p.arguments = Array(args.dropFirst())
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        p.standardInput = FileHandle.nullDevice
        do { try p.run() } catch { throw .command(args.joined(separator: " "), status: -1, output: "\(error)") }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let output = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard p.terminationStatus == 0 else { throw .command(args.joined(separator: " "), status: p.terminationStatus, output: output) }
        return output
    }

    /// `ip ARGS` (words split on spaces: the drill's names never hold any).
    static func ip(_ args: String) throws(DrillError) {
        try run(["/usr/sbin/ip"] + args.split(separator: " ").map(String.init))
    }
}
