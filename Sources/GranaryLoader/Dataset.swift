import GranaryClient
import GranaryMeta

/// A set of samples under a Granary path — one file per sample, or WebDataset tar shards — with
/// its index: what `Loader` reads from.
///
/// Guarantees: `open` reuses the stored index only when it was built for the same root, format and
/// label rule and no directory or shard it recorded has changed since (one batched attribute
/// check); otherwise it walks the tree again, parses the shards, and replaces the stored index.
/// A damaged stored index is rebuilt, never trusted. Sample order in the index is the sorted path
/// order (then archive order inside a shard), so every process that opens the same data numbers
/// its samples the same way — which shuffling and sharding across ranks rely on.
public final class Dataset: Sendable {
    public let root: String
    public let format: DatasetFormat
    public let labelRule: LabelRule
    public let index: DatasetIndex
    /// Class names by index (path-component labels); empty otherwise.
    public let classes: [String]
    /// Whether `open` found a current index (false: it built one).
    public let indexReused: Bool
    /// Where the index is stored.
    public let indexPath: String

    public var count: Int { index.count }

    init(root: String, format: DatasetFormat, labelRule: LabelRule, index: DatasetIndex, reused: Bool, indexPath: String) {
        self.root = root
        self.format = format
        self.labelRule = labelRule
        self.index = index
        self.indexReused = reused
        self.indexPath = indexPath
        classes = (0..<index.classCount).map { index.className($0) }
    }

    /// The index file of `root` for `format`.
    public static func indexPath(root: String, format: DatasetFormat) -> String {
        let base = root.hasSuffix("/") ? String(root.dropLast()) : root
        switch format {
        case .files: return base + "/.granary/index-files"
        case .tarShards: return base + "/.granary/index-tar"
        }
    }

    /// Opens the dataset at `root`, building and storing its index when there is no current one
    /// (or when `rebuildIndex`). `progress` hears about long steps (walking, parsing shards).
    public static func open(_ root: String, format: DatasetFormat, label: LabelRule = .none, client: FileClient,
                            rebuildIndex: Bool = false,
                            progress: @escaping @Sendable (String) -> Void = { _ in }) async throws(LoaderError) -> Dataset {
        guard root.hasPrefix("/") else { throw .dataset(root: root, cause: "the root must be an absolute Granary path") }
        if case .member = label, case .files = format {
            throw .invalidConfiguration(field: "label", reason: "member(...) labels need tar shards; use pathComponent for one file per sample")
        }
        let path = indexPath(root: root, format: format)
        let options = format.canonical + ";" + label.canonical
        // With an identity on the client, the caller must be able to list the dataset (read and
        // search on the root; the walk checks every directory and file below).
        let rootInode: Inode
        do { rootInode = try await client.authorize(root, []) } catch { throw .dataset(root: root, cause: error.description) }
        guard rootInode.isDirectory else { throw .dataset(root: root, cause: "not a directory") }
        do throws(ClientError) { try client.require([.read, .execute], on: rootInode, at: root) } catch { throw .client(error) }
        if !rebuildIndex, let index = await current(path: path, root: root, options: options, client: client, progress: progress) {
            return Dataset(root: root, format: format, labelRule: label, index: index, reused: true, indexPath: path)
        }
        // The index's directory is made before the walk records the root's mtime: making it later
        // would change that mtime and make the new index look stale at once.
        // A user who may read the dataset but not write beside it still trains: the index is then
        // kept in memory only, and built again next time.
        var storable = true
        do throws(ClientError) {
            let indexDir = try client.split(path).0
            if let who = client.settings.identity {
                let exists = (try? await client.meta.resolve(indexDir)) != nil
                do { _ = try await client.authorize(exists ? indexDir : root, [.write, .execute]) } catch {
                    guard case .permissionDenied = error else { throw error }
                    storable = false
                }
                if storable { _ = try await client.meta.mkdirAll(indexDir, uid: who.uid, gid: who.gids.first ?? 0) }
            } else {
                _ = try await client.meta.mkdirAll(indexDir)
            }
        } catch { throw .client(error) }
        let bytes = try await DatasetBuilder(root: root, format: format, label: label, options: options, client: client, progress: progress).build()
        if storable {
            do throws(ClientError) { try await client.writeFile(path, bytes: bytes, replace: true) } catch {
                guard case .permissionDenied = error else { throw .client(error) }
                progress("cannot store the index at \(path) (\(error)); using it from memory")
            }
        } else {
            progress("cannot store the index at \(path): no write permission there; using it from memory")
        }
        return Dataset(root: root, format: format, labelRule: label, index: try DatasetIndex(bytes: bytes, path: path), reused: false, indexPath: path)
    }

    /// The stored index when it is readable, built with `options` for `root`, and nothing it
    /// recorded has changed; `nil` (after saying why through `progress`) otherwise.
    static func current(path: String, root: String, options: String, client: FileClient,
                        progress: @Sendable (String) -> Void) async -> DatasetIndex? {
        let bytes: [UInt8]
        do { bytes = try await client.readFile(path) } catch {
            switch error {
            case .meta(.noSuchPath), .meta(.notFound): progress("no index at \(path) yet; building it")
            default: progress("index \(path) unreadable (\(error)); rebuilding it")
            }
            return nil
        }
        let index: DatasetIndex
        do { index = try DatasetIndex(bytes: bytes, path: path) } catch {
            progress("\(error); rebuilding it")
            return nil
        }
        guard index.root == root, index.options == options else {
            progress("index \(path) was built for \(index.root) with \(index.options); rebuilding it for \(options)")
            return nil
        }
        let dirs = (0..<index.directoryCount).map { index.directory($0) }
        let shards = (0..<index.shardCount).map { index.shard($0) }
        let attrs: [Inode?]
        do { attrs = try await client.meta.getattrs(dirs.map(\.inode) + shards.map(\.inode)) } catch {
            progress("index \(path): cannot check it is current (\(error)); rebuilding it")
            return nil
        }
        for (d, a) in zip(dirs, attrs) where a?.mtime != d.mtime || a?.isDirectory != true {
            progress("index \(path): \(root)/\(d.path) changed since it was built; rebuilding it")
            return nil
        }
        for (s, a) in zip(shards, attrs.dropFirst(dirs.count)) where a?.mtime != s.mtime || a?.size != s.size {
            progress("index \(path): shard \(s.path) changed since it was built; rebuilding it")
            return nil
        }
        // Another user may have built it: a directory this client's user cannot list sends it
        // through the walk, which refuses by name. (Files' own modes are checked by the walk.)
        if let who = client.settings.identity {
            for (d, a) in zip(dirs, attrs) where a.map({ !who.allows($0, [.read, .execute]) }) ?? false {
                progress("index \(path): \(root)/\(d.path) is not readable by \(who); walking the dataset again")
                return nil
            }
            for (s, a) in zip(shards, attrs.dropFirst(dirs.count)) where a.map({ !who.allows($0, .read) }) ?? false {
                progress("index \(path): shard \(s.path) is not readable by \(who); walking the dataset again")
                return nil
            }
        }
        return index
    }

    /// The absolute path of sample `i`'s file (its shard, for tar datasets).
    public func filePath(_ entry: DatasetIndex.Entry) -> String {
        let base = root == "/" ? "" : root
        switch format {
        case .files: return base + "/" + entry.key
        case .tarShards: return base + "/" + index.shard(Int(entry.ref)).path
        }
    }

    /// The name sample `i` goes by in the client cache and its access trace: the file's path, or
    /// `shard path/sample key` (so a shard's samples form one group the prefetcher can learn).
    public func cacheKey(_ entry: DatasetIndex.Entry) -> String {
        switch format {
        case .files: return filePath(entry)
        case .tarShards: return filePath(entry) + "/" + entry.key
        }
    }
}
