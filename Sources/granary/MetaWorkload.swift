import Dispatch
import Foundation
import GranaryCore
import GranaryMeta
import GranaryPrefetch
import Synchronization

/// The metadata-heavy small-file workload of `granary bench meta`, run against one store: a tree
/// like an image-folder training set (`dirs` directories of `files` small files each, under one
/// top directory), created by `threads` concurrent callers, then read back by as many callers for
/// `seconds` per operation (lookups, getattr, whole-directory readdir, path resolution).
///
/// Guarantees: every engine gets exactly the same tree (names, sizes, stripe shapes) and the same
/// sequence of random picks per caller (seeded), so two engines' figures compare like for like; a
/// phase only counts operations that returned what was created (a lookup that finds nothing, a
/// listing with a missing entry fail the run), so a broken store cannot look fast; the first error
/// stops every caller and is reported naming the engine, the operation and the entry.
///
/// The store is called from plain threads, not from Swift tasks: `MetaStore` calls block (on a
/// disk, on the database server), and blocking the cooperative pool's two threads on a 2-core
/// machine would serialise the callers we mean to run at once.
struct MetaWorkload: Sendable {
    var dirs: Int
    var files: Int
    var threads: Int
    var seconds: Double
    /// The top directory the tree goes under (unique per run, so a shared database can hold it).
    var top: String

    /// Every small file's stripe: 4+2 like the default layout, one stripe per file.
    static let layout = StripeLayout.default
    /// liberasurecode's fragment header, so fragment lengths look like the ones clients store.
    static let headerLength = 80
    /// Storage nodes the fragments are spread over (one drive each). The drives need not exist:
    /// the metadata store records placements, it never contacts a drive.
    static let nodes = 8

    var total: Int { dirs * files }

    static let operations = ["create", "lookup", "getattr", "readdir", "resolve"]

    /// Directory `d`'s name and file `n`'s name in it.
    static func dirName(_ d: Int) -> String { String(format: "d%03d", d) }
    static func fileName(_ n: Int) -> String { String(format: "f%06d.jpg", n) }

    /// File number `i` of the whole tree lives in directory `i % dirs` as file `i / dirs`: callers
    /// claiming consecutive numbers create in different directories, as a parallel import of many
    /// directories does.
    func place(_ i: Int) -> (dir: Int, file: Int) { (i % dirs, i / dirs) }

    /// A training sample's size: 4 KiB to 64 KiB, fixed per file number.
    static func size(_ i: Int) -> Int64 { Int64(4096 + (i &* 7919) % 61_440) }

    /// Builds the tree in `store`, times every operation, and returns the figures by operation
    /// name. `progress` gets one line per phase. Errors name `engine`.
    func run(on store: any MetaStore, engine: String, progress: (String) -> Void) throws -> [String: MetaBench.Figures] {
        var figures: [String: MetaBench.Figures] = [:]
        let drives = try Self.drives()
        let topDir: Inode
        var dirIDs: [InodeID] = []
        let first: UInt64
        do {
            topDir = try store.mkdir(parent: .root, name: top, mode: 0o755, uid: 0, gid: 0)
            for d in 0..<dirs {
                dirIDs.append(try store.mkdir(parent: topDir.id, name: Self.dirName(d), mode: 0o755, uid: 0, gid: 0).id)
            }
            // Reserved in one call, untimed: the creates measure the commit of each file, as an
            // importer reserves stripe ids in batches ahead of writing fragments.
            first = try store.allocateStripes(count: total)
        } catch {
            throw CLIError("bench meta: \(engine): building /\(top) with \(dirs) directories: \(error)")
        }
        let parents = dirIDs
        let dirs = dirs, files = files, top = top, total = total

        progress("\(engine): creating \(total) files in \(dirs) directories, \(threads) callers")
        let created = Mutex<[InodeID]>(Array(repeating: InodeID(0), count: total))
        let claims = Claims()
        figures["create"] = try phase("create", engine: engine, deadline: nil) { _ in
            let i = claims.next()
            guard i < total else { return false }
            let (d, n) = place(i)
            let stripe = Self.stripe(id: first + UInt64(i), size: Self.size(i), drives: drives)
            let file = NewFile(parent: parents[d], name: Self.fileName(n), size: Self.size(i), mtime: 1_700_000_000,
                               extents: [Extent(fileOffset: 0, stripe: stripe.id, stripeOffset: 0, length: stripe.dataLength)])
            let inodes: [Inode]
            do { inodes = try store.commitFiles(stripes: [stripe], files: [file]) } catch {
                throw CLIError("create of /\(top)/\(Self.dirName(d))/\(Self.fileName(n)) (commitFiles): \(error)")
            }
            guard let inode = inodes.first, inodes.count == 1 else {
                throw CLIError("create of /\(top)/\(Self.dirName(d))/\(Self.fileName(n)): commitFiles returned \(inodes.count) inodes for 1 file")
            }
            created.withLock { $0[i] = inode.id }
            return true
        }
        let ids = created.withLock { $0 }
        // Every file must be listed where it was created before reads are timed against the tree.
        for (d, id) in parents.enumerated() {
            let count: Int
            do { count = try store.readdir(id).count } catch {
                throw CLIError("bench meta: \(engine): readdir of /\(top)/\(Self.dirName(d)) after the creates: \(error)")
            }
            guard count == files else {
                throw CLIError("bench meta: \(engine): /\(top)/\(Self.dirName(d)) lists \(count) entries after \(files) creates")
            }
        }

        progress("\(engine): lookups for \(seconds) s")
        figures["lookup"] = try phase("lookup", engine: engine, deadline: seconds) { rng in
            let d = rng.below(dirs), n = rng.below(files)
            let found = try store.lookup(parent: parents[d], name: Self.fileName(n))
            guard found?.id == ids[n * dirs + d] else {
                throw CLIError("lookup of \(Self.fileName(n)) in /\(top)/\(Self.dirName(d)) found \(found.map { "\($0.id)" } ?? "nothing"), "
                    + "created as \(ids[n * dirs + d])")
            }
            return true
        }
        progress("\(engine): getattr for \(seconds) s")
        figures["getattr"] = try phase("getattr", engine: engine, deadline: seconds) { rng in
            let id = ids[rng.below(ids.count)]
            let inode = try store.getattr(id)
            guard inode.kind == .file, inode.id == id else { throw CLIError("getattr of \(id) returned \(inode.kind) \(inode.id)") }
            return true
        }
        progress("\(engine): readdir of whole directories for \(seconds) s")
        figures["readdir"] = try phase("readdir", engine: engine, deadline: seconds) { rng in
            let d = rng.below(dirs)
            let count = try store.readdir(parents[d]).count
            guard count == files else { throw CLIError("readdir of /\(top)/\(Self.dirName(d)) listed \(count) of \(files) entries") }
            return true
        }
        progress("\(engine): resolve(path:) for \(seconds) s")
        figures["resolve"] = try phase("resolve", engine: engine, deadline: seconds) { rng in
            let i = rng.below(ids.count)
            let (d, n) = (i % dirs, i / dirs)
            let path = "/\(top)/\(Self.dirName(d))/\(Self.fileName(n))"
            let inode = try store.resolve(path: path)
            guard inode.id == ids[i] else { throw CLIError("resolve of \(path) found \(inode.id), created as \(ids[i])") }
            return true
        }
        return figures
    }

    /// Removes the tree and forgets its stripes (for a database the bench does not own), untimed.
    func remove(from store: any MetaStore, engine: String) throws {
        do {
            let topDir = try store.lookup(parent: .root, name: top)
            guard let topDir else { return }
            var stripes: [UInt64] = []
            for d in try store.readdir(topDir.id) {
                for f in try store.readdir(d.inode) {
                    stripes += try store.fileMap(f.inode).stripes.keys
                    try store.unlink(parent: d.inode, name: f.name)
                }
                try store.rmdir(parent: topDir.id, name: d.name)
            }
            try store.rmdir(parent: .root, name: top)
            var next = 0
            while next < stripes.count {
                try store.forgetStripes(Array(stripes[next..<min(next + 1000, stripes.count)]))
                next += 1000
            }
        } catch {
            throw CLIError("bench meta: \(engine): removing /\(top) after the run: \(error)")
        }
    }

    // MARK: Phases

    /// Hands out file numbers to the create callers, each number once.
    final class Claims: Sendable {
        private let counter = Atomic<Int>(0)
        func next() -> Int { counter.wrappingAdd(1, ordering: .relaxed).oldValue }
    }

    /// What the callers of one phase share: the stop flag (set by the first failure), the first
    /// failure's message, and every caller's latencies once it is done.
    final class PhaseState: Sendable {
        let stop = Atomic<Bool>(false)
        let failure = Mutex<String?>(nil)
        let latencies = Mutex<[UInt64]>([])
    }

    /// Runs `op` on `threads` threads at once, each with its own seeded generator, until it returns
    /// false (no more work) or, with a `deadline` in seconds, until that much time has passed.
    /// Ops/s is the operations completed over the phase's wall time; latencies are per call.
    func phase(_ name: String, engine: String, deadline: Double?,
               _ op: @escaping @Sendable (inout SplitMix64) throws -> Bool) throws -> MetaBench.Figures {
        let state = PhaseState()
        let group = DispatchGroup()
        let start = DispatchTime.now().uptimeNanoseconds
        let end = deadline.map { start + UInt64($0 * 1e9) }
        let seed = UInt64(name.utf8.reduce(0) { $0 &* 31 &+ Int($1) } & 0xffff)
        for t in 0..<threads {
            group.enter()
            let thread = Thread {
                defer { group.leave() }
                var rng = SplitMix64(seed: seed << 16 | UInt64(t))
                var mine: [UInt64] = []
                mine.reserveCapacity(4096)
                do {
                    while !state.stop.load(ordering: .relaxed) {
                        let t0 = DispatchTime.now().uptimeNanoseconds
                        if let end, t0 >= end { break }
                        guard try op(&rng) else { break }
                        mine.append(DispatchTime.now().uptimeNanoseconds - t0)
                    }
                } catch {
                    state.failure.withLock { if $0 == nil { $0 = "\(error)" } }
                    state.stop.store(true, ordering: .relaxed)
                }
                state.latencies.withLock { $0 += mine }
            }
            // The default stack of a Foundation thread can be small; GRDB and postgres-nio calls
            // in a debug build nest deeply.
            thread.stackSize = 8 << 20
            thread.start()
        }
        group.wait()
        let wall = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        if let failure = state.failure.withLock({ $0 }) { throw CLIError("bench meta: \(engine): \(failure)") }
        let latencies = state.latencies.withLock { $0 }.sorted()
        guard !latencies.isEmpty else { throw CLIError("bench meta: \(engine): no \(name) completed in \(wall) s") }
        func quantile(_ q: Double) -> Double {
            Double(latencies[min(latencies.count - 1, Int(Double(latencies.count) * q))]) / 1e3
        }
        return MetaBench.Figures(ops: latencies.count, seconds: wall, opsPerSecond: Double(latencies.count) / wall,
                                 p50Us: quantile(0.5), p99Us: quantile(0.99))
    }

    // MARK: The tree's stripes

    /// The drives fragments are placed on: `node-N/d0` for N below `nodes`.
    static func drives() throws -> [DriveID] {
        try (0..<nodes).map { n in
            guard let node = NodeID("bench-node-\(n)"), let drive = DriveID(node: node, name: "d0") else {
                throw CLIError("bench meta: internal: bench-node-\(n)/d0 is not a valid drive id")
            }
            return drive
        }
    }

    /// One small file's own stripe: `size` data bytes over the layout's data fragments, fragments
    /// on consecutive drives starting at one that depends on the id (so placements vary like a
    /// placer's do).
    static func stripe(id: UInt64, size: Int64, drives: [DriveID]) -> Stripe {
        let k = layout.k
        let block = (Int(size) + k - 1) / k
        let fragments = (0..<layout.width).map { j in
            FragmentPlacement(index: j, drive: drives[(Int(id % UInt64(drives.count)) + j) % drives.count])
        }
        return Stripe(id: id, layout: layout, dataLength: Int(size), fragmentLength: block + headerLength,
                      headerLength: headerLength, fragments: fragments)
    }
}
