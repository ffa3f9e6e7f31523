import ArgumentParser
import Foundation
import GranaryClient
import GranaryCore

/// `granary import LOCAL_DIR GRANARY_PATH`: copies a local tree in, packing small files.
struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import", abstract: "Copy a local directory tree into Granary (parallel, resumable, verified).",
        discussion: "Files below --small-file are packed into shared stripes. Run it again after an interruption: files already imported (same size and modification time) are skipped.")
    @OptionGroup var options: ClientOptions
    @Argument(help: "Local directory to import.") var local: String
    @Argument(help: "Granary directory to import into (created if missing).") var path: String
    @Option(help: "Stripes written at once.") var parallel = 4
    @Option(help: "Files smaller than this are packed into shared stripes.") var smallFile = "1MiB"
    @Flag(help: "Skip reading every file back to compare checksums.") var noVerify = false

    func run() async throws {
        guard let small = ByteSize(parsing: smallFile), small.bytes >= 0 else { throw ValidationError("--small-file: expected a size such as 1MiB") }
        var settings = FileClientSettings()
        settings.smallFileThreshold = Int(small.bytes)
        settings.stripesInFlight = max(1, parallel)
        let (client, transport) = try options.fileClient(settings: settings)
        defer { transport.closeAll() }
        let importer = Importer(client: client, parallel: parallel, verify: !noVerify)
        let json = options.json
        let started = Date()
        do {
            let report = try await importer.run(local: local, to: path) { p in
                let secs = max(Date().timeIntervalSince(started), 0.001)
                let line = String(format: "%@: %d/%d files (%d skipped), %@ of %@, %.1f MB/s", p.phase, p.filesDone, p.filesTotal, p.filesSkipped,
                                  ByteSize(p.bytesDone).description, ByteSize(p.bytesTotal).description, Double(p.bytesDone) / secs / 1e6)
                FileHandle.standardError.write(Data((line + "\n").utf8))
            }
            if json { print(Output.json(report)) } else {
                print(String(format: "imported %d files (%@) in %d directories as %d stripes (%d small files packed), skipped %d already there, verified %d; %.1f s, %.1f MB/s",
                             report.files, ByteSize(report.bytes).description, report.directories, report.stripes, report.packedFiles,
                             report.skipped, report.verified, report.seconds, Double(report.bytes) / max(report.seconds, 0.001) / 1e6))
                if !report.notRegularFiles.isEmpty { print("not imported (not regular files): " + report.notRegularFiles.joined(separator: ", ")) }
            }
        } catch { throw CLIError("import \(local) → \(path): \(error)") }
    }
}
