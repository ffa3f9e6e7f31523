import ArgumentParser
import Foundation
import GranaryClient
import GranaryCore
import GranaryMeta
import GranaryTransport
import Logging

/// `granary warmup PATH`: fills this machine's disk cache with a file or a tree, so the next mount
/// or loader here starts warm.
struct WarmupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "warmup", abstract: "Preload a Granary file or directory tree into the local disk cache.",
        discussion: "Files are cached in the same pieces a mount reads them in (whole files up to the cache block, blocks of larger ones), so a mount or loader on this machine using the same cache directory finds them. Entries already cached and current are skipped.")
    @OptionGroup var options: ClientOptions
    @OptionGroup var cacheOptions: CacheOptions
    @Argument(help: "Granary path (a file or a directory, walked recursively).") var path: String
    @Option(help: "Pieces fetched at once.") var parallel = 8

    struct Report: Codable {
        var files = 0
        var pieces = 0
        var fetched = 0
        var alreadyCached = 0
        var bytes = 0
        var seconds = 0.0
        var cacheDirectory = ""
    }

    func run() async throws {
        var logger = Logger(label: "granary-warmup")
        logger.logLevel = .warning
        let (client, transport) = try options.fileClient()
        defer { transport.closeAll() }
        let (config, secret) = try options.configAndSecret()
        var s = try cacheOptions.settings(config.cache)
        s.memoryBytes = 0
        s.prefetchConcurrency = 0
        guard let dir = s.directory, s.diskBytes > 0 else { throw CLIError("warmup needs a disk tier: pass --cache-dir and a non-zero --cache-disk") }
        let cache: ReadCache
        do {
            cache = try ReadCache(client: client, settings: s, namespace: Authenticator(secret: secret).clusterFingerprint, logger: logger)
        } catch { throw CLIError("\(error)") }
        let started = Date()
        var pieces: [(map: FileMap, path: String, offset: Int64, length: Int)] = []
        var report = Report(cacheDirectory: dir)
        do {
            for (file, map) in try await files(below: path, client: client) {
                report.files += 1
                for piece in s.pieces(ofFileSize: map.inode.size) { pieces.append((map, file, piece.offset, piece.length)) }
            }
        } catch { throw CLIError("warmup \(path): \(error)") }
        report.pieces = pieces.count
        let total = pieces.reduce(0) { $0 + $1.length }
        var lastPrint = Date.distantPast
        var next = 0
        try await withThrowingTaskGroup(of: (Bool, Int).self) { group in
            func add() {
                let p = pieces[next]
                next += 1
                group.addTask {
                    do { return (try await cache.warm(p.map, path: p.path, offset: p.offset, length: p.length), p.length) } catch {
                        throw CLIError("warmup \(p.path) at \(p.offset): \(error)")
                    }
                }
            }
            while next < min(max(1, parallel), pieces.count) { add() }
            while let (fetched, n) = try await group.next() {
                if fetched { report.fetched += 1 } else { report.alreadyCached += 1 }
                report.bytes += n
                if next < pieces.count { add() }
                if Date().timeIntervalSince(lastPrint) > 0.5 || report.fetched + report.alreadyCached == pieces.count {
                    lastPrint = Date()
                    let secs = max(Date().timeIntervalSince(started), 0.001)
                    FileHandle.standardError.write(Data(String(format: "warmup: %d/%d pieces, %@ of %@, %.1f MB/s\n",
                        report.fetched + report.alreadyCached, pieces.count, ByteSize(Int64(report.bytes)).description,
                        ByteSize(Int64(total)).description, Double(report.bytes) / secs / 1e6).utf8))
                }
            }
        }
        report.seconds = Date().timeIntervalSince(started)
        if options.json { print(Output.json(report)) } else {
            print(String(format: "warmed %d files (%d pieces, %@): %d fetched, %d already cached; %.1f s; cache %@",
                         report.files, report.pieces, ByteSize(Int64(report.bytes)).description, report.fetched, report.alreadyCached,
                         report.seconds, dir))
        }
    }

    /// Every regular file at or below `path`, with its map.
    func files(below path: String, client: FileClient) async throws(ClientError) -> [(String, FileMap)] {
        let root = try await client.meta.resolve(path)
        if root.kind == .file { return [(path, try await client.meta.fileMap(root.id))] }
        var out: [(String, FileMap)] = []
        var dirs = [(path == "/" ? "" : path, root.id)]
        while let (dir, id) = dirs.popLast() {
            var ids: [InodeID] = []
            var names: [String] = []
            for (e, inode) in try await client.meta.readdirPlus(id) {
                if inode.kind == .directory { dirs.append((dir + "/" + e.name, inode.id)) } else if inode.kind == .file, inode.size > 0 {
                    ids.append(inode.id)
                    names.append(dir + "/" + e.name)
                }
            }
            var i = 0
            while i < ids.count {
                let chunk = Array(ids[i..<min(ids.count, i + 1000)])
                let batch = try await client.meta.fileMaps(chunk)
                for j in chunk.indices { if let m = batch.map(j) { out.append((names[i + j], m)) } }
                i += chunk.count
            }
        }
        return out
    }
}
