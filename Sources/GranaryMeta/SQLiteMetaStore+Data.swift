import GRDB
import GranaryCore

extension SQLiteMetaStore {
    public func allocateStripes(count: Int) throws(MetaError) -> UInt64 {
        try MetaRules.validateAllocation(count: count)
        return try write { db in
            let next = try Int64.fetchOne(db, sql: "SELECT next FROM stripe_ids WHERE singleton = 1") ?? 1
            try db.execute(sql: "UPDATE stripe_ids SET next = ? WHERE singleton = 1", arguments: [next + Int64(count)])
            try db.execute(sql: "INSERT INTO stripe_allocations (first, count, at) VALUES (?, ?, ?)",
                           arguments: [next, count, Clock.now()])
            return UInt64(next)
        }
    }

    @discardableResult
    public func commitFiles(stripes: [Stripe], files: [NewFile]) throws(MetaError) -> [Inode] {
        try MetaRules.validate(stripes)
        for f in files { try EntryName.validate(f.name) }
        return try write { db in
            let now = Clock.now()
            var known = try insertNewStripes(db, stripes, now: now)
            var created: [Inode] = []
            for f in files {
                try checkExtents(db, f, known: &known)
                _ = try directory(db, f.parent)
                if let existing = try entry(db, f.parent, f.name) {
                    guard f.replace else { throw MetaError.exists(parent: f.parent, name: f.name) }
                    guard existing.kind == .file else { throw MetaError.isDirectory(inode: existing.inode, name: f.name) }
                    try removeEntry(db, f.parent, f.name)
                    try dropLink(db, existing.inode, now: now)
                }
                let mtime = f.mtime ?? now
                try db.execute(
                    sql: """
                        INSERT INTO inodes (kind, mode, uid, gid, size, nlink, mtime, ctime)
                        VALUES ('file', ?, ?, ?, ?, 1, ?, ?)
                        """,
                    arguments: [Int64(f.mode & 0o7777), Int64(f.uid), Int64(f.gid), f.size, mtime, now])
                let id = InodeID(UInt64(db.lastInsertedRowID))
                try db.execute(sql: "INSERT INTO dir_entries (parent, name, inode, kind) VALUES (?, ?, ?, 'file')",
                               arguments: [try key(f.parent), f.name, try key(id)])
                for e in f.extents {
                    try db.execute(
                        sql: "INSERT INTO extents (inode, file_offset, stripe, stripe_offset, length) VALUES (?, ?, ?, ?, ?)",
                        arguments: [try key(id), e.fileOffset, Int64(bitPattern: e.stripe), e.stripeOffset, e.length])
                }
                try touch(db, f.parent, now: now)
                created.append(Inode(id: id, kind: .file, mode: f.mode & 0o7777, uid: f.uid, gid: f.gid, size: f.size,
                                     nlink: 1, mtime: mtime, ctime: now))
            }
            return created
        }
    }

    public func fileMap(_ id: InodeID) throws(MetaError) -> FileMap {
        try read { db in
            guard let inode = try inode(db, id) else { throw MetaError.noSuchInode(id) }
            guard inode.kind == .file else { throw MetaError.isDirectory(inode: id, name: nil) }
            let extents = try self.extents(db, id)
            var stripes: [UInt64: Stripe] = [:]
            for sid in Set(extents.map(\.stripe)) {
                guard let s = try stripe(db, sid) else {
                    throw MetaError.corrupt(path: path, table: "extents", key: "\(id.rawValue)", reason: "it names stripe \(sid), which does not exist")
                }
                stripes[sid] = s
            }
            return FileMap(inode: inode, extents: extents, stripes: stripes)
        }
    }

    public func fileMaps(_ ids: [InodeID]) throws(MetaError) -> FileMapBatch {
        try read { db in
            var files: [FileMapBatch.Entry?] = []
            var stripes: [UInt64: Stripe] = [:]
            for id in ids {
                guard let inode = try inode(db, id) else { files.append(nil); continue }
                guard inode.kind == .file else { throw MetaError.isDirectory(inode: id, name: nil) }
                let extents = try self.extents(db, id)
                for sid in Set(extents.map(\.stripe)) where stripes[sid] == nil {
                    guard let s = try stripe(db, sid) else {
                        throw MetaError.corrupt(path: path, table: "extents", key: "\(id.rawValue)", reason: "it names stripe \(sid), which does not exist")
                    }
                    stripes[sid] = s
                }
                files.append(FileMapBatch.Entry(inode: inode, extents: extents))
            }
            return FileMapBatch(files: files, stripes: stripes)
        }
    }

    public func stripes(_ ids: [UInt64]) throws(MetaError) -> [Stripe] {
        try read { db in try ids.compactMap { id in try stripe(db, id) } }
    }

    public func unreferencedStripes(limit: Int) throws(MetaError) -> [Stripe] {
        try read { db in
            let ids = try Int64.fetchAll(
                db, sql: "SELECT id FROM stripes WHERE NOT EXISTS (SELECT 1 FROM extents WHERE extents.stripe = stripes.id) ORDER BY id LIMIT ?",
                arguments: [max(0, limit)])
            return try ids.compactMap { id in try stripe(db, UInt64(bitPattern: id)) }
        }
    }

    public func forgetStripes(_ ids: [UInt64]) throws(MetaError) {
        try write { db in
            for id in ids {
                try db.execute(
                    sql: "DELETE FROM stripes WHERE id = ? AND NOT EXISTS (SELECT 1 FROM extents WHERE stripe = ?)",
                    arguments: [Int64(bitPattern: id), Int64(bitPattern: id)])
            }
        }
    }

    public func orphanWatermark(allocatedBefore time: Double) throws(MetaError) -> UInt64 {
        try read { db in
            let end = try Int64.fetchOne(db, sql: "SELECT MAX(first + count) FROM stripe_allocations WHERE at < ?", arguments: [time])
            return UInt64(max(1, end ?? 1))
        }
    }

    public func layout(of id: InodeID) throws(MetaError) -> StripeLayout? {
        try read { db in
            _ = try directory(db, id)
            return try storedLayout(db, id)
        }
    }

    public func effectiveLayout(of id: InodeID) throws(MetaError) -> StripeLayout? {
        try read { db in
            _ = try directory(db, id)
            var current = id
            var seen: Set<InodeID> = []
            while seen.insert(current).inserted {
                if let l = try storedLayout(db, current) { return l }
                if current == .root { return nil }
                guard let parent = try Int64.fetchOne(
                    db, sql: "SELECT parent FROM dir_entries WHERE inode = ? AND kind = 'directory' LIMIT 1",
                    arguments: [try key(current)]) else { return nil }
                current = InodeID(UInt64(parent))
            }
            throw MetaError.corrupt(path: path, table: "dir_entries", key: "\(current.rawValue)", reason: "the directory tree has a cycle")
        }
    }

    public func setLayout(_ id: InodeID, _ layout: StripeLayout?) throws(MetaError) {
        if let layout {
            do throws(StripeLayout.Invalid) { try layout.validate() } catch { throw .invalidLayout(inode: id, reason: error.description) }
        }
        try write { db in
            _ = try directory(db, id)
            try db.execute(sql: "DELETE FROM dir_layouts WHERE inode = ?", arguments: [try key(id)])
            if let l = layout {
                try db.execute(sql: "INSERT INTO dir_layouts (inode, k, m, fragment_size, backend) VALUES (?, ?, ?, ?, ?)",
                               arguments: [try key(id), l.k, l.m, l.fragmentSize, l.backend])
            }
        }
    }

    // MARK: Helpers (inside a transaction)

    private func storedLayout(_ db: Database, _ id: InodeID) throws -> StripeLayout? {
        guard let row = try Row.fetchOne(db, sql: "SELECT * FROM dir_layouts WHERE inode = ?", arguments: [try key(id)]) else { return nil }
        let f = fields(row, table: "dir_layouts", key: "\(id.rawValue)")
        return StripeLayout(k: try f.get("k"), m: try f.get("m"), fragmentSize: try f.get("fragment_size"), backend: try f.get("backend"))
    }

    /// The extents of file `id`, by file offset.
    func extents(_ db: Database, _ id: InodeID) throws -> [Extent] {
        let rows = try Row.fetchAll(
            db, sql: "SELECT file_offset, stripe, stripe_offset, length FROM extents WHERE inode = ? ORDER BY file_offset",
            arguments: [try key(id)])
        return try rows.map { row in
            let f = fields(row, table: "extents", key: "\(id.rawValue)")
            return Extent(fileOffset: try f.get("file_offset"), stripe: UInt64(bitPattern: try f.get("stripe", as: Int64.self)),
                          stripeOffset: try f.get("stripe_offset"), length: try f.get("length"))
        }
    }

    func stripe(_ db: Database, _ id: UInt64) throws -> Stripe? {
        let k = Int64(bitPattern: id)
        guard let row = try Row.fetchOne(db, sql: "SELECT * FROM stripes WHERE id = ?", arguments: [k]) else { return nil }
        let f = fields(row, table: "stripes", key: String(id, radix: 16))
        let layout = StripeLayout(k: try f.get("k"), m: try f.get("m"), fragmentSize: try f.get("fragment_size"), backend: try f.get("backend"))
        var placements: [FragmentPlacement] = []
        for r in try Row.fetchAll(db, sql: "SELECT idx, drive, generation FROM fragments WHERE stripe = ? ORDER BY idx", arguments: [k]) {
            let ff = fields(r, table: "fragments", key: String(id, radix: 16))
            let text = try ff.get("drive", as: String.self)
            guard let drive = DriveID(parsing: text) else { throw ff.corrupt("invalid drive id '\(text)'") }
            placements.append(FragmentPlacement(index: try ff.get("idx"), drive: drive, generation: try ff.uint32("generation")))
        }
        var wide: StripeLayout?
        if let wk = try f.get("wide_k", as: Int?.self) {
            wide = StripeLayout(k: wk, m: layout.m, fragmentSize: try f.get("wide_fragment_size"), backend: layout.backend)
        }
        let s = Stripe(id: id, layout: layout, version: try f.uint32("version"), dataLength: try f.get("data_length"),
                       fragmentLength: try f.get("fragment_length"), headerLength: try f.get("header_length"), fragments: placements,
                       wideLayout: wide)
        if let problem = s.problem { throw f.corrupt(problem) }
        return s
    }

    func insertStripe(_ db: Database, _ s: Stripe, now: Double) throws {
        let id = Int64(bitPattern: s.id)
        try db.execute(
            sql: """
                INSERT INTO stripes (id, k, m, fragment_size, backend, version, data_length, fragment_length, header_length,
                                     created_at, wide_k, wide_fragment_size)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [id, s.layout.k, s.layout.m, s.layout.fragmentSize, s.layout.backend, Int64(s.version), s.dataLength,
                        s.fragmentLength, s.headerLength, now, s.wideLayout?.k, s.wideLayout?.fragmentSize])
        try insertFragments(db, s)
    }

    func insertFragments(_ db: Database, _ s: Stripe) throws {
        for p in s.fragments {
            try db.execute(sql: "INSERT INTO fragments (stripe, idx, drive, generation) VALUES (?, ?, ?, ?)",
                           arguments: [Int64(bitPattern: s.id), p.index, p.drive.description, Int64(p.generation)])
        }
    }

    /// Throws `.invalidFile` unless `f`'s extents are sorted, disjoint, inside its size and inside
    /// their stripes (looked up in `known`, else in the store, and remembered).
    private func checkExtents(_ db: Database, _ f: NewFile, known: inout [UInt64: Stripe]) throws {
        try checkExtents(db, f.extents, size: f.size, known: &known) { .invalidFile(parent: f.parent, name: f.name, reason: $0) }
    }

    private func checkExtents(_ db: Database, _ extents: [Extent], size: Int64, known: inout [UInt64: Stripe],
                              bad: (String) -> MetaError) throws {
        try MetaRules.checkExtents(extents, size: size, known: &known, lookup: { id in try stripe(db, id) }, bad: bad)
    }

    /// Records new stripes inside a write transaction: each allocated, consistent and not stored yet.
    private func insertNewStripes(_ db: Database, _ stripes: [Stripe], now: Double) throws -> [UInt64: Stripe] {
        let next = try Int64.fetchOne(db, sql: "SELECT next FROM stripe_ids WHERE singleton = 1") ?? 1
        var known: [UInt64: Stripe] = [:]
        for s in stripes {
            guard s.id >= 1, let id = Int64(exactly: s.id), id < next else {
                throw MetaError.invalidStripe(id: s.id, reason: "its id was never allocated")
            }
            if try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM stripes WHERE id = ?)", arguments: [id]) ?? false {
                throw MetaError.invalidStripe(id: s.id, reason: "a stripe with this id is already stored")
            }
            try insertStripe(db, s, now: now)
            known[s.id] = s
        }
        return known
    }

    @discardableResult
    public func rewriteFile(_ id: InodeID, replacing expected: [Extent], with extents: [Extent], stripes: [Stripe], size: Int64) throws(MetaError) -> Inode {
        try MetaRules.validate(stripes)
        return try write { db in
            let now = Clock.now()
            guard var inode = try inode(db, id) else { throw MetaError.noSuchInode(id) }
            guard inode.kind == .file else { throw MetaError.isDirectory(inode: id, name: nil) }
            var known = try insertNewStripes(db, stripes, now: now)
            let current = try self.extents(db, id)
            // The writer must have seen every extent in the span it rewrites, exactly as stored.
            guard MetaRules.rewriteSawCurrent(current, expected: expected, extents: extents) else { throw MetaError.fileChanged(id) }
            let final = (current.filter { !expected.contains($0) } + extents).sorted { $0.fileOffset < $1.fileOffset }
            try checkExtents(db, final, size: size, known: &known) { reason in
                MetaError.invalidFile(parent: id, name: "(rewrite)", reason: reason)
            }
            for e in expected {
                try db.execute(sql: "DELETE FROM extents WHERE inode = ? AND file_offset = ?", arguments: [try key(id), e.fileOffset])
            }
            for e in extents {
                try db.execute(
                    sql: "INSERT INTO extents (inode, file_offset, stripe, stripe_offset, length) VALUES (?, ?, ?, ?, ?)",
                    arguments: [try key(id), e.fileOffset, Int64(bitPattern: e.stripe), e.stripeOffset, e.length])
            }
            try db.execute(sql: "UPDATE inodes SET size = ?, mtime = ?, ctime = ? WHERE id = ?", arguments: [size, now, now, try key(id)])
            inode.size = size
            inode.mtime = now
            inode.ctime = now
            return inode
        }
    }
}
