import GranaryClient
import GranaryMeta

/// Walks a dataset's tree (and parses its tar shards) into a `DatasetIndex` blob.
///
/// Names starting with "." are skipped (the index's own `.granary` directory, editors' and
/// writers' temporary files); symbolic links are not followed. Shards are streamed 16 MiB at a
/// time, so a shard of any size is parsed in bounded memory.
struct DatasetBuilder {
    let root: String
    let format: DatasetFormat
    let label: LabelRule
    let options: String
    let client: FileClient
    let progress: @Sendable (String) -> Void

    func build() async throws(LoaderError) -> [UInt8] {
        var directories: [DatasetIndex.Directory] = []
        var files: [(path: String, inode: Inode)] = []
        try await walk(&directories, &files)
        var entries: [DatasetIndex.Entry] = []
        var shards: [DatasetIndex.Shard] = []
        switch format {
        case let .files(extensions):
            let wanted = Set(extensions.map { $0.lowercased() })
            for f in files where wanted.isEmpty || wanted.contains(Self.fileExtension(f.path)) {
                entries.append(DatasetIndex.Entry(ref: f.inode.id.rawValue, offset: 0, length: f.inode.size, key: f.path, label: -1, parts: []))
            }
            progress("indexed \(entries.count) files in \(directories.count) directories under \(root)")
        case .tarShards:
            for f in files where f.path.hasSuffix(".tar") {
                let number = UInt64(shards.count)
                shards.append(DatasetIndex.Shard(inode: f.inode.id, size: f.inode.size, mtime: f.inode.mtime, path: f.path))
                for s in try await samples(inShard: f.path, inode: f.inode) {
                    entries.append(DatasetIndex.Entry(ref: number, offset: s.span.lowerBound, length: Int64(s.span.count), key: s.key, label: -1,
                                                      parts: s.members.map { DatasetIndex.Part(ext: $0.ext, offset: Int($0.dataOffset - s.span.lowerBound), size: Int($0.size)) }))
                }
                progress("parsed shard \(f.path): \(entries.count) samples so far")
            }
        }
        var classes: [String] = []
        if case .pathComponent = label {
            var names: [String] = []
            names.reserveCapacity(entries.count)
            for e in entries {
                guard let name = label.component(of: e.key) else {
                    throw .dataset(root: root, cause: "sample \(e.key) has no path component \(label) to take its label from")
                }
                names.append(name)
            }
            classes = Set(names).sorted()
            let number = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, Int32($0)) })
            for i in entries.indices { entries[i].label = number[names[i]] ?? -1 }
        }
        return DatasetIndex.encode(format: format == .tarShards ? 1 : 0, options: options, root: root, directories: directories,
                                   shards: shards, classes: classes, entries: entries)
    }

    /// Every directory below the root (the root included) and every regular file, paths relative
    /// to the root, files sorted by path.
    func walk(_ directories: inout [DatasetIndex.Directory], _ files: inout [(path: String, inode: Inode)]) async throws(LoaderError) {
        let top: Inode
        do { top = try await client.meta.resolve(root) } catch { throw .dataset(root: root, cause: error.description) }
        var pending: [(path: String, inode: Inode)] = [("", top)]
        func full(_ p: String) -> String { p.isEmpty ? root : (root == "/" ? "" : root) + "/" + p }
        while let (path, dir) = pending.popLast() {
            // What `find` or ImageFolder would be refused as this user is refused here, by name.
            do throws(ClientError) { try client.require([.read, .execute], on: dir, at: full(path)) } catch { throw .client(error) }
            directories.append(DatasetIndex.Directory(inode: dir.id, mtime: dir.mtime, path: path))
            let listing: [(DirEntry, Inode)]
            do { listing = try await client.meta.readdirPlus(dir.id) } catch {
                throw .dataset(root: root, cause: "listing \(path.isEmpty ? "the root" : path): \(error)")
            }
            for (entry, inode) in listing where !entry.name.hasPrefix(".") {
                let child = path.isEmpty ? entry.name : path + "/" + entry.name
                switch inode.kind {
                case .directory: pending.append((child, inode))
                case .file:
                    do throws(ClientError) { try client.require(.read, on: inode, at: full(child)) } catch { throw .client(error) }
                    files.append((child, inode))
                default: continue
                }
            }
            if directories.count % 100 == 0 { progress("walked \(directories.count) directories, \(files.count) files") }
        }
        files.sort { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
    }

    /// The samples of one shard, parsed from its bytes streamed in order.
    func samples(inShard path: String, inode: Inode) async throws(LoaderError) -> [TarSample] {
        let full = (root == "/" ? "" : root) + "/" + path
        let map: FileMap
        do { map = try await client.meta.fileMap(inode.id) } catch { throw .dataset(root: root, cause: "shard \(path): \(error)") }
        var scanner = TarScanner(shard: full)
        var grouper = WebDatasetGrouper(shard: full)
        var out: [TarSample] = []
        let buffer = OwnedBuffer(count: Int(min(map.inode.size, 16 << 20)))
        var offset: Int64 = 0
        while offset < map.inode.size {
            let n: Int
            do { n = try await client.read(map, path: full, offset: offset, into: buffer.raw) } catch { throw .client(error) }
            if n == 0 { break }
            do throws(TarError) {
                for m in try scanner.feed(UnsafeRawBufferPointer(rebasing: buffer.raw[0..<n])) {
                    if let s = try grouper.add(m) { out.append(s) }
                }
            } catch { throw .shard(error) }
            offset += Int64(n)
        }
        do { try scanner.finish() } catch { throw .shard(error) }
        if let last = grouper.finish() { out.append(last) }
        return out
    }

    /// The extension of a file name (after its last dot), lowercased; "" when it has none.
    static func fileExtension(_ path: String) -> String {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return "" }
        return name[name.index(after: dot)...].lowercased()
    }
}
