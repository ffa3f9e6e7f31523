#if canImport(Glibc)
import Glibc
#endif
import Foundation
import GranaryCore
import GranaryMeta

/// Copies a local directory tree into Granary: small files packed into shared stripes, large
/// files striped on their own, `parallel` stripes in flight.
///
/// Guarantees: each file appears in Granary whole or not at all (a pack's files are committed
/// together with their stripe); an interrupted import run again skips the files already there
/// with the same size and modification time, and replaces any that differ; with `verify`, every
/// file written is read back through the normal read path and its CRC32C compared with the
/// source's, and a mismatch fails the import naming the file.
public struct Importer: Sendable {
    public let client: FileClient
    public var parallel: Int
    public var verify: Bool

    public init(client: FileClient, parallel: Int = 4, verify: Bool = true) {
        self.client = client
        self.parallel = max(1, parallel)
        self.verify = verify
    }

    /// Where an import stands, reported after every committed stripe or file.
    public struct Progress: Sendable, Codable {
        public var filesDone = 0
        public var filesTotal = 0
        public var filesSkipped = 0
        public var bytesDone: Int64 = 0
        public var bytesTotal: Int64 = 0
        public var phase = "import"
    }

    /// What an import did.
    public struct Report: Sendable, Codable {
        public var files = 0
        public var skipped = 0
        public var bytes: Int64 = 0
        public var directories = 0
        public var stripes = 0
        public var packedFiles = 0
        public var verified = 0
        public var notRegularFiles: [String] = []
        public var seconds = 0.0
    }

    private enum Job: Sendable {
        case pack(layout: StripeLayout, buffer: OwnedBuffer, used: Int, files: [(NewFile, offset: Int, crc: UInt32, path: String)])
        case large(local: String, file: NewFile, layout: StripeLayout, path: String)
    }

    private struct Done: Sendable {
        var files: [(path: String, inode: InodeID, crc: UInt32, size: Int64)]
        var stripes: Int
        var packed: Int
    }

    public func run(local: String, to dest: String, progress: @escaping @Sendable (Progress) -> Void) async throws(ClientError) -> Report {
        let start = FileClient.seconds()
        let tree = try LocalTree.scan(local)
        var report = Report()
        report.notRegularFiles = tree.skipped
        var state = Progress()
        state.filesTotal = tree.files.count
        state.bytesTotal = tree.files.reduce(0) { $0 + $1.size }

        // Directories first, with the layout new files in each get and what is already there.
        let destRoot = dest.hasSuffix("/") && dest.count > 1 ? String(dest.dropLast()) : dest
        func granaryPath(_ rel: String) -> String { rel.isEmpty ? destRoot : (destRoot == "/" ? "/" : destRoot + "/") + rel }
        var dirs: [String: (id: InodeID, layout: StripeLayout, existing: Set<String>)] = [:]
        for rel in [""] + tree.directories {
            let inode = try await client.meta.mkdirAll(granaryPath(rel))
            let layout = try await client.layoutForNewFiles(in: inode.id)
            let existing = Set(try await client.meta.readdir(inode.id).filter { $0.kind == .file }.map(\.name))
            dirs[rel] = (inode.id, layout, existing)
        }
        report.directories = tree.directories.count

        // Files are read and packed as the jobs they make are written, `parallel` jobs in flight:
        // memory stays at about `parallel` + 1 stripes per layout, however large the tree.
        let client = self.client
        let parallel = self.parallel
        var results: [Result<Done, ClientError>] = []
        var scanError: ClientError?
        await withTaskGroup(of: Result<Done, ClientError>.self) { group in
            var inFlight = 0
            var failed = false
            func absorb(_ r: Result<Done, ClientError>) {
                inFlight -= 1
                results.append(r)
                if case let .success(d) = r {
                    state.filesDone += d.files.count
                    state.bytesDone += d.files.reduce(0) { $0 + $1.size }
                    progress(state)
                } else { failed = true }
            }
            func submit(_ job: Job) async {
                while inFlight >= parallel, let r = await group.next() { absorb(r) }
                inFlight += 1
                group.addTask {
                    do throws(ClientError) { return .success(try await Self.execute(job, client)) } catch { return .failure(error) }
                }
            }
            var packs: [StripeLayout: (buffer: OwnedBuffer, used: Int, files: [(NewFile, offset: Int, crc: UInt32, path: String)])] = [:]
            do throws(ClientError) {
                for f in tree.files {
                    if failed { break }
                    let relDir = f.path.split(separator: "/").dropLast().joined(separator: "/")
                    let name = String(f.path.split(separator: "/").last ?? "")
                    guard let dir = dirs[relDir] else { continue }
                    var replace = false
                    if dir.existing.contains(name) {
                        if let there = try await client.meta.lookup(dir.id, name), there.size == f.size, abs(there.mtime - f.mtime) < 1e-6 {
                            state.filesSkipped += 1
                            state.filesDone += 1
                            state.bytesDone += f.size
                            report.skipped += 1
                            continue
                        }
                        replace = true
                    }
                    let path = granaryPath(f.path)
                    let newFile = NewFile(parent: dir.id, name: name, mode: f.mode, size: f.size, mtime: f.mtime, extents: [], replace: replace)
                    if f.size >= Int64(client.settings.smallFileThreshold) || f.size > Int64(dir.layout.stripeDataSize) {
                        await submit(.large(local: local + "/" + f.path, file: newFile, layout: dir.layout, path: path))
                        continue
                    }
                    var pack = packs[dir.layout] ?? (OwnedBuffer(count: dir.layout.stripeDataSize), 0, [])
                    if pack.used + Int(f.size) > pack.buffer.count {
                        await submit(.pack(layout: dir.layout, buffer: pack.buffer, used: pack.used, files: pack.files))
                        pack = (OwnedBuffer(count: dir.layout.stripeDataSize), 0, [])
                    }
                    let slot = UnsafeMutableRawBufferPointer(rebasing: pack.buffer.raw[pack.used..<(pack.used + Int(f.size))])
                    try Self.readLocal(local + "/" + f.path, into: slot, at: 0)
                    pack.files.append((newFile, pack.used, CRC32C.checksum(UnsafeRawBufferPointer(slot)), path))
                    pack.used += Int(f.size)
                    packs[dir.layout] = pack
                }
            } catch {
                scanError = error
            }
            if scanError == nil && !failed {
                for (layout, pack) in packs where !pack.files.isEmpty {
                    await submit(.pack(layout: layout, buffer: pack.buffer, used: pack.used, files: pack.files))
                }
            }
            while let r = await group.next() { absorb(r) }
        }
        if let scanError { throw scanError }
        var imported: [(path: String, inode: InodeID, crc: UInt32, size: Int64)] = []
        for r in results {
            let d = try r.get()
            imported += d.files
            report.stripes += d.stripes
            report.packedFiles += d.packed
        }
        report.files = imported.count
        report.bytes = imported.reduce(0) { $0 + $1.size }

        if verify {
            state.phase = "verify"
            state.filesDone = 0
            state.bytesDone = 0
            state.filesTotal = imported.count
            state.bytesTotal = report.bytes
            progress(state)
            // `parallel` files at once; each is the inode the commit created, not whatever the
            // path names by now.
            var next = 0
            while next < imported.count {
                let batch = Array(imported[next..<min(next + 256, imported.count)])
                let crcs = try await client.mapConcurrently(batch, limit: parallel) { (f) async throws(ClientError) -> UInt32 in
                    try await Self.checksum(f.path, f.inode, client)
                }
                for (f, crc) in zip(batch, crcs) {
                    guard crc == f.crc else {
                        throw .verifyFailed(path: f.path, reason: String(format: "read back CRC32C %08x, source %08x", crc, f.crc))
                    }
                    report.verified += 1
                    state.filesDone += 1
                    state.bytesDone += f.size
                }
                progress(state)
                next += batch.count
            }
        }
        report.seconds = FileClient.seconds() - start
        return report
    }

    private static func execute(_ job: Job, _ client: FileClient) async throws(ClientError) -> Done {
        switch job {
        case let .pack(layout, buffer, used, files):
            let id = try await client.meta.allocateStripes(1)
            let stripe = try await client.writeStripe(id: id, layout: layout, data: UnsafeRawBufferPointer(rebasing: buffer.raw[0..<used]),
                                                      file: files.first?.path ?? "pack")
            let commits = files.map { f -> NewFile in
                var n = f.0
                if n.size > 0 { n.extents = [Extent(fileOffset: 0, stripe: id, stripeOffset: f.offset, length: Int(n.size))] }
                return n
            }
            let inodes = try await client.meta.commitFiles(stripes: [stripe], files: commits)
            return Done(files: zip(files, inodes).map { ($0.path, $1.id, $0.crc, $0.0.size) }, stripes: 1, packed: files.count)
        case let .large(local, file, layout, path):
            var crc: UInt32 = 0
            let (stripes, extents) = try await client.writeData(file: path, layout: layout, size: file.size) { (offset, buf) throws(ClientError) in
                try readLocal(local, into: buf, at: offset)
                crc = CRC32C.checksum(UnsafeRawBufferPointer(buf), seed: crc)
            }
            var f = file
            f.extents = extents
            let inodes = try await client.meta.commitFiles(stripes: stripes, files: [f])
            return Done(files: inodes.map { (path, $0.id, crc, file.size) }, stripes: stripes.count, packed: 0)
        }
    }

    /// Fills `buffer` from local file `path` at `offset`; a short file is an error naming it.
    static func readLocal(_ path: String, into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws(ClientError) {
        if buffer.isEmpty { return }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .localFile(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var done = 0
        while done < buffer.count {
            let n = pread(fd, buffer.baseAddress?.advanced(by: done), buffer.count - done, off_t(offset) + off_t(done))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                throw .localFile(path: path, reason: n == 0 ? "file shrank while being imported" : String(cString: strerror(errno)))
            }
            done += n
        }
    }

    /// CRC32C of file `inode` (named `path` in errors), read through the normal read path.
    static func checksum(_ path: String, _ inode: InodeID, _ client: FileClient) async throws(ClientError) -> UInt32 {
        var crc: UInt32 = 0
        try await client.stream(try await client.meta.fileMap(inode), path: path) { crc = CRC32C.checksum($0, seed: crc) }
        return crc
    }
}
