import GranaryCore

extension PostgresMetaStore {
    public func allocateStripes(count: Int) throws(MetaError) -> UInt64 {
        try MetaRules.validateAllocation(count: count)
        return try write(locking: [LockKey.stripeAllocator]) { tx in
            guard let row = try tx.row("SELECT next FROM stripe_ids WHERE singleton = 1", table: "stripe_ids", key: "1") else {
                throw MetaError.corrupt(path: location, table: "stripe_ids", key: "1", reason: "the allocator row is missing")
            }
            let next = try row.int64("next")
            guard next >= 1, next <= Int64.max - Int64(count) else { throw row.corrupt("the next stripe id is \(next)") }
            try tx.execute("UPDATE stripe_ids SET next = $1 WHERE singleton = 1", [.bigint(next + Int64(count))])
            try tx.execute("INSERT INTO stripe_allocations (first, count, at) VALUES ($1, $2, $3)",
                           [.bigint(next), .int(count), .double(Clock.now())])
            return UInt64(next)
        }
    }

    @discardableResult
    public func commitFiles(stripes: [Stripe], files: [NewFile]) throws(MetaError) -> [Inode] {
        try MetaRules.validate(stripes)
        for f in files { try EntryName.validate(f.name) }
        return try write(locking: files.flatMap { Self.lockKey($0.parent) }) { tx in
            let now = Clock.now()
            var known = try insertNewStripes(tx, stripes, now: now)
            var created: [Inode] = []
            for f in files {
                try MetaRules.checkExtents(f.extents, size: f.size, known: &known, lookup: { id in try stripe(tx, id) }) {
                    .invalidFile(parent: f.parent, name: f.name, reason: $0)
                }
                _ = try directory(tx, f.parent)
                if let existing = try entry(tx, f.parent, f.name) {
                    guard f.replace else { throw MetaError.exists(parent: f.parent, name: f.name) }
                    guard existing.kind == .file else { throw MetaError.isDirectory(inode: existing.inode, name: f.name) }
                    try removeEntry(tx, f.parent, f.name)
                    try dropLink(tx, existing.inode, now: now)
                }
                let mtime = f.mtime ?? now
                let id = try insertInode(tx, kind: .file, mode: f.mode & 0o7777, uid: f.uid, gid: f.gid, size: f.size, nlink: 1,
                                         mtime: mtime, ctime: now, target: nil)
                try tx.execute("INSERT INTO dir_entries (parent, name, inode, kind) VALUES ($1, $2, $3, 'file')",
                               [.bigint(try key(f.parent)), .text(f.name), .bigint(try key(id))])
                try insertExtents(tx, id, f.extents)
                try touch(tx, f.parent, now: now)
                created.append(Inode(id: id, kind: .file, mode: f.mode & 0o7777, uid: f.uid, gid: f.gid, size: f.size,
                                     nlink: 1, mtime: mtime, ctime: now))
            }
            return created
        }
    }

    @discardableResult
    public func rewriteFile(_ id: InodeID, replacing expected: [Extent], with extents: [Extent], stripes: [Stripe], size: Int64) throws(MetaError) -> Inode {
        try MetaRules.validate(stripes)
        return try write(locking: Self.lockKey(id)) { tx in
            let now = Clock.now()
            guard var inode = try inode(tx, id) else { throw MetaError.noSuchInode(id) }
            guard inode.kind == .file else { throw MetaError.isDirectory(inode: id, name: nil) }
            var known = try insertNewStripes(tx, stripes, now: now)
            let current = try self.extents(tx, [id])[id] ?? []
            // The writer must have seen every extent in the span it rewrites, exactly as stored.
            guard MetaRules.rewriteSawCurrent(current, expected: expected, extents: extents) else { throw MetaError.fileChanged(id) }
            let final = (current.filter { !expected.contains($0) } + extents).sorted { $0.fileOffset < $1.fileOffset }
            try MetaRules.checkExtents(final, size: size, known: &known, lookup: { sid in try stripe(tx, sid) }) { reason in
                MetaError.invalidFile(parent: id, name: "(rewrite)", reason: reason)
            }
            let k = try key(id)
            for e in expected {
                try tx.execute("DELETE FROM extents WHERE inode = $1 AND file_offset = $2", [.bigint(k), .bigint(e.fileOffset)])
            }
            try insertExtents(tx, id, extents)
            try tx.execute("UPDATE inodes SET size = $1, mtime = $2, ctime = $2 WHERE id = $3", [.bigint(size), .double(now), .bigint(k)])
            inode.size = size
            inode.mtime = now
            inode.ctime = now
            return inode
        }
    }

    public func fileMap(_ id: InodeID) throws(MetaError) -> FileMap {
        try read { tx in
            guard let inode = try inode(tx, id) else { throw MetaError.noSuchInode(id) }
            guard inode.kind == .file else { throw MetaError.isDirectory(inode: id, name: nil) }
            let extents = try self.extents(tx, [id])[id] ?? []
            let stripes = try referencedStripes(tx, extents, by: id)
            return FileMap(inode: inode, extents: extents, stripes: stripes)
        }
    }

    public func fileMaps(_ ids: [InodeID]) throws(MetaError) -> FileMapBatch {
        try read { tx in
            let found = try inodes(tx, ids)
            for id in ids {
                if let inode = found[id], inode.kind != .file { throw MetaError.isDirectory(inode: id, name: nil) }
            }
            let extents = try self.extents(tx, Array(found.keys))
            var stripes: [UInt64: Stripe] = [:]
            let all = try loadStripes(tx, Array(Set(extents.values.flatMap { $0.map(\.stripe) })))
            var files: [FileMapBatch.Entry?] = []
            for id in ids {
                guard let inode = found[id] else { files.append(nil); continue }
                let own = extents[id] ?? []
                for e in own where stripes[e.stripe] == nil {
                    guard let s = all[e.stripe] else {
                        throw MetaError.corrupt(path: location, table: "extents", key: "\(id.rawValue)",
                                                reason: "it names stripe \(e.stripe), which does not exist")
                    }
                    stripes[e.stripe] = s
                }
                files.append(FileMapBatch.Entry(inode: inode, extents: own))
            }
            return FileMapBatch(files: files, stripes: stripes)
        }
    }

    public func stripes(_ ids: [UInt64]) throws(MetaError) -> [Stripe] {
        try read { tx in
            let found = try loadStripes(tx, ids)
            return ids.compactMap { found[$0] }
        }
    }

    public func unreferencedStripes(limit: Int) throws(MetaError) -> [Stripe] {
        try read { tx in
            try orderedStripes(tx, """
                SELECT id FROM stripes s WHERE NOT EXISTS (SELECT 1 FROM extents e WHERE e.stripe = s.id) ORDER BY id LIMIT $1
                """, [.int(max(0, limit))])
        }
    }

    public func forgetStripes(_ ids: [UInt64]) throws(MetaError) {
        try write { tx in
            try tx.execute("DELETE FROM stripes s WHERE s.id = ANY($1) AND NOT EXISTS (SELECT 1 FROM extents e WHERE e.stripe = s.id)",
                           [.bigints(ids.map { Int64(bitPattern: $0) })])
        }
    }

    public func orphanWatermark(allocatedBefore time: Double) throws(MetaError) -> UInt64 {
        try read { tx in
            let row = try tx.row("SELECT MAX(first + count) AS end FROM stripe_allocations WHERE at < $1", [.double(time)],
                                 table: "stripe_allocations", key: "max")
            let end = try row?.get("end", as: Int64?.self) ?? nil
            return UInt64(max(1, end ?? 1))
        }
    }

    public func layout(of id: InodeID) throws(MetaError) -> StripeLayout? {
        try read { tx in
            _ = try directory(tx, id)
            return try storedLayout(tx, id)
        }
    }

    public func effectiveLayout(of id: InodeID) throws(MetaError) -> StripeLayout? {
        try read { tx in
            _ = try directory(tx, id)
            var current = id
            var seen: Set<InodeID> = []
            while seen.insert(current).inserted {
                if let l = try storedLayout(tx, current) { return l }
                if current == .root { return nil }
                guard let parent = try parentDirectory(tx, of: current) else { return nil }
                current = parent
            }
            throw MetaError.corrupt(path: location, table: "dir_entries", key: "\(current.rawValue)", reason: "the directory tree has a cycle")
        }
    }

    public func setLayout(_ id: InodeID, _ layout: StripeLayout?) throws(MetaError) {
        if let layout {
            do throws(StripeLayout.Invalid) { try layout.validate() } catch { throw .invalidLayout(inode: id, reason: error.description) }
        }
        try write(locking: Self.lockKey(id)) { tx in
            _ = try directory(tx, id)
            let k = try key(id)
            try tx.execute("DELETE FROM dir_layouts WHERE inode = $1", [.bigint(k)])
            if let l = layout {
                try tx.execute("INSERT INTO dir_layouts (inode, k, m, fragment_size, backend) VALUES ($1, $2, $3, $4, $5)",
                               [.bigint(k), .int(l.k), .int(l.m), .int(l.fragmentSize), .text(l.backend)])
            }
        }
    }

    // MARK: Helpers (inside a transaction)

    private func storedLayout(_ tx: PostgresTransaction, _ id: InodeID) throws -> StripeLayout? {
        guard let row = try tx.row("SELECT * FROM dir_layouts WHERE inode = $1", [.bigint(try key(id))],
                                   table: "dir_layouts", key: "\(id.rawValue)") else { return nil }
        return StripeLayout(k: try row.int("k"), m: try row.int("m"), fragmentSize: try row.int("fragment_size"), backend: try row.string("backend"))
    }

    /// The extents of each of `ids` (files), by file offset, read with one statement.
    func extents(_ tx: PostgresTransaction, _ ids: [InodeID]) throws -> [InodeID: [Extent]] {
        let keys = ids.compactMap { Int64(exactly: $0.rawValue) }
        guard !keys.isEmpty else { return [:] }
        var out: [InodeID: [Extent]] = [:]
        for r in try tx.rows("""
            SELECT inode, file_offset, stripe, stripe_offset, length FROM extents WHERE inode = ANY($1) ORDER BY inode, file_offset
            """, [.bigints(keys)]) {
            let row = tx.reader(r, table: "extents", key: "?")
            let id = try inodeID(row, "inode")
            out[id, default: []].append(Extent(fileOffset: try row.int64("file_offset"), stripe: try row.bits("stripe"),
                                               stripeOffset: try row.int("stripe_offset"), length: try row.int("length")))
        }
        return out
    }

    private func insertExtents(_ tx: PostgresTransaction, _ id: InodeID, _ extents: [Extent]) throws {
        guard !extents.isEmpty else { return }
        // One statement for all of a file's extents (a large file has thousands).
        try tx.execute("""
            INSERT INTO extents (inode, file_offset, stripe, stripe_offset, length)
            SELECT $1, * FROM unnest($2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[])
            """, [.bigint(try key(id)), .bigints(extents.map(\.fileOffset)), .bigints(extents.map { Int64(bitPattern: $0.stripe) }),
                  .bigints(extents.map { Int64($0.stripeOffset) }), .bigints(extents.map { Int64($0.length) })])
    }

    /// The stripes `extents` of file `id` point into, which must all exist.
    private func referencedStripes(_ tx: PostgresTransaction, _ extents: [Extent], by id: InodeID) throws -> [UInt64: Stripe] {
        let ids = Array(Set(extents.map(\.stripe)))
        let found = try loadStripes(tx, ids)
        for sid in ids where found[sid] == nil {
            throw MetaError.corrupt(path: location, table: "extents", key: "\(id.rawValue)", reason: "it names stripe \(sid), which does not exist")
        }
        return found
    }

    /// The stripe `id`, `nil` when it is not stored.
    func stripe(_ tx: PostgresTransaction, _ id: UInt64) throws -> Stripe? {
        try loadStripes(tx, [id])[id]
    }

    /// The stripes whose ids `sql` selects (column `id`), in that order.
    func orderedStripes(_ tx: PostgresTransaction, _ sql: String, _ values: [PostgresValue]) throws -> [Stripe] {
        let ids = try tx.rows(sql, values).map { r in try tx.reader(r, table: "stripes", key: "?").bits("id") }
        let found = try loadStripes(tx, ids)
        return ids.compactMap { found[$0] }
    }

    /// The stored stripes among `ids`, with their fragments, read with two statements.
    func loadStripes(_ tx: PostgresTransaction, _ ids: [UInt64]) throws -> [UInt64: Stripe] {
        guard !ids.isEmpty else { return [:] }
        let keys: PostgresValue = .bigints(Array(Set(ids)).map { Int64(bitPattern: $0) })
        var placements: [UInt64: [FragmentPlacement]] = [:]
        for r in try tx.rows("SELECT stripe, idx, drive, generation FROM fragments WHERE stripe = ANY($1) ORDER BY stripe, idx", [keys]) {
            let sid = try tx.reader(r, table: "fragments", key: "?").bits("stripe")
            let row = tx.reader(r, table: "fragments", key: String(sid, radix: 16))
            let text = try row.string("drive")
            guard let drive = DriveID(parsing: text) else { throw row.corrupt("invalid drive id '\(text)'") }
            placements[sid, default: []].append(FragmentPlacement(index: try row.int("idx"), drive: drive, generation: try row.uint32("generation")))
        }
        var out: [UInt64: Stripe] = [:]
        for r in try tx.rows("SELECT * FROM stripes WHERE id = ANY($1)", [keys]) {
            let id = try tx.reader(r, table: "stripes", key: "?").bits("id")
            let row = tx.reader(r, table: "stripes", key: String(id, radix: 16))
            let layout = StripeLayout(k: try row.int("k"), m: try row.int("m"), fragmentSize: try row.int("fragment_size"),
                                      backend: try row.string("backend"))
            var wide: StripeLayout?
            if let wk = try row.optionalInt("wide_k") {
                wide = StripeLayout(k: wk, m: layout.m, fragmentSize: try row.int("wide_fragment_size"), backend: layout.backend)
            }
            let s = Stripe(id: id, layout: layout, version: try row.uint32("version"), dataLength: try row.int("data_length"),
                           fragmentLength: try row.int("fragment_length"), headerLength: try row.int("header_length"),
                           fragments: placements[id] ?? [], wideLayout: wide)
            if let problem = s.problem { throw row.corrupt(problem) }
            out[id] = s
        }
        return out
    }

    func insertFragments(_ tx: PostgresTransaction, _ s: Stripe) throws {
        guard !s.fragments.isEmpty else { return }
        try tx.execute("""
            INSERT INTO fragments (stripe, idx, drive, generation)
            SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::bigint[])
            """, [.bits(s.id), .bigints(s.fragments.map { Int64($0.index) }), .texts(s.fragments.map(\.drive.description)),
                  .bigints(s.fragments.map { Int64($0.generation) })])
    }

    /// Records new stripes inside a write transaction: each allocated, consistent and not stored yet.
    private func insertNewStripes(_ tx: PostgresTransaction, _ stripes: [Stripe], now: Double) throws -> [UInt64: Stripe] {
        guard !stripes.isEmpty else { return [:] }
        guard let row = try tx.row("SELECT next FROM stripe_ids WHERE singleton = 1", table: "stripe_ids", key: "1") else {
            throw MetaError.corrupt(path: location, table: "stripe_ids", key: "1", reason: "the allocator row is missing")
        }
        let next = try row.int64("next")
        let stored = try loadStripes(tx, stripes.map(\.id))
        var known: [UInt64: Stripe] = [:]
        for s in stripes {
            guard s.id >= 1, let id = Int64(exactly: s.id), id < next else {
                throw MetaError.invalidStripe(id: s.id, reason: "its id was never allocated")
            }
            if stored[s.id] != nil || known[s.id] != nil {
                throw MetaError.invalidStripe(id: s.id, reason: "a stripe with this id is already stored")
            }
            try tx.execute("""
                INSERT INTO stripes (id, k, m, fragment_size, backend, version, data_length, fragment_length, header_length,
                                     created_at, wide_k, wide_fragment_size)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                """, [.bits(s.id), .int(s.layout.k), .int(s.layout.m), .int(s.layout.fragmentSize), .text(s.layout.backend),
                      .int(s.version), .int(s.dataLength), .int(s.fragmentLength), .int(s.headerLength), .double(now),
                      .optional(s.wideLayout?.k), .optional(s.wideLayout?.fragmentSize)])
            try insertFragments(tx, s)
            known[s.id] = s
        }
        return known
    }
}
