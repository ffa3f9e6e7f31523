extension PostgresMetaStore {
    public func lookup(parent: InodeID, name: String) throws(MetaError) -> Inode? {
        try EntryName.validate(name)
        return try read { tx in
            _ = try directory(tx, parent)
            guard let e = try entry(tx, parent, name) else { return nil }
            guard let inode = try inode(tx, e.inode) else {
                throw MetaError.corrupt(path: location, table: "dir_entries", key: "\(parent.rawValue)/\(name)",
                                        reason: "it names \(e.inode), which does not exist")
            }
            return inode
        }
    }

    public func getattr(_ id: InodeID) throws(MetaError) -> Inode {
        try read { tx in
            guard let inode = try inode(tx, id) else { throw MetaError.noSuchInode(id) }
            return inode
        }
    }

    public func getattrs(_ ids: [InodeID]) throws(MetaError) -> [Inode?] {
        try read { tx in
            let found = try inodes(tx, ids)
            return ids.map { found[$0] }
        }
    }

    public func mkdir(parent: InodeID, name: String, mode: UInt32, uid: UInt32, gid: UInt32) throws(MetaError) -> Inode {
        try create(parent: parent, name: name, kind: .directory, mode: mode, uid: uid, gid: gid, target: nil)
    }

    public func createFile(parent: InodeID, name: String, mode: UInt32, uid: UInt32, gid: UInt32) throws(MetaError) -> Inode {
        try create(parent: parent, name: name, kind: .file, mode: mode, uid: uid, gid: gid, target: nil)
    }

    public func symlink(parent: InodeID, name: String, target: String, uid: UInt32, gid: UInt32) throws(MetaError) -> Inode {
        try MetaRules.validateSymlinkTarget(target)
        return try create(parent: parent, name: name, kind: .symlink, mode: 0o777, uid: uid, gid: gid, target: target)
    }

    public func readdir(_ id: InodeID) throws(MetaError) -> [DirEntry] {
        try read { tx in
            _ = try directory(tx, id)
            // The column's "C" collation orders by the bytes of the UTF-8, as `readdir` promises.
            return try tx.rows("SELECT name, inode, kind FROM dir_entries WHERE parent = $1 ORDER BY name",
                               [.bigint(try key(id))]).map { r throws in
                let name = try tx.reader(r, table: "dir_entries", key: "\(id.rawValue)/?").string("name")
                let row = tx.reader(r, table: "dir_entries", key: "\(id.rawValue)/\(name)")
                return DirEntry(name: name, inode: try inodeID(row, "inode"), kind: try kind(row, "kind"))
            }
        }
    }

    public func unlink(parent: InodeID, name: String) throws(MetaError) {
        try EntryName.validate(name)
        try write(locking: Self.lockKey(parent)) { tx in
            let now = Clock.now()
            _ = try directory(tx, parent)
            guard let e = try entry(tx, parent, name) else { throw MetaError.notFound(parent: parent, name: name) }
            if e.kind == .directory { throw MetaError.isDirectory(inode: e.inode, name: name) }
            try removeEntry(tx, parent, name)
            try dropLink(tx, e.inode, now: now)
            try touch(tx, parent, now: now)
        }
    }

    public func rmdir(parent: InodeID, name: String) throws(MetaError) {
        try EntryName.validate(name)
        try write(locking: Self.lockKey(parent)) { tx in
            let now = Clock.now()
            _ = try directory(tx, parent)
            guard let e = try entry(tx, parent, name) else { throw MetaError.notFound(parent: parent, name: name) }
            guard e.kind == .directory else { throw MetaError.notDirectory(inode: e.inode, name: name) }
            if try hasEntries(tx, e.inode) { throw MetaError.notEmpty(inode: e.inode, name: name) }
            try removeEntry(tx, parent, name)
            try tx.execute("DELETE FROM inodes WHERE id = $1", [.bigint(try key(e.inode))])
            try adjustLinks(tx, parent, by: -1)
            try touch(tx, parent, now: now)
        }
    }

    public func rename(fromParent: InodeID, fromName: String, toParent: InodeID, toName: String) throws(MetaError) {
        try EntryName.validate(fromName)
        try EntryName.validate(toName)
        try write(locking: Self.lockKey(fromParent) + Self.lockKey(toParent)) { tx in
            let now = Clock.now()
            _ = try directory(tx, fromParent)
            _ = try directory(tx, toParent)
            guard let source = try entry(tx, fromParent, fromName) else {
                throw MetaError.notFound(parent: fromParent, name: fromName)
            }
            if fromParent == toParent && fromName == toName { return }
            let movesDirectory = source.kind == .directory
            if movesDirectory && fromParent != toParent {
                try refuseMoveIntoSubtree(tx, source.inode, name: fromName, destination: toParent)
            }
            if let target = try entry(tx, toParent, toName) {
                // Two entries for one inode (not possible without hard links): POSIX says do nothing.
                if target.inode == source.inode { return }
                if target.kind == .directory {
                    guard movesDirectory else { throw MetaError.isDirectory(inode: target.inode, name: toName) }
                    if try hasEntries(tx, target.inode) { throw MetaError.notEmpty(inode: target.inode, name: toName) }
                    try removeEntry(tx, toParent, toName)
                    try tx.execute("DELETE FROM inodes WHERE id = $1", [.bigint(try key(target.inode))])
                    try adjustLinks(tx, toParent, by: -1)
                } else {
                    guard !movesDirectory else { throw MetaError.notDirectory(inode: target.inode, name: toName) }
                    try removeEntry(tx, toParent, toName)
                    try dropLink(tx, target.inode, now: now)
                }
            }
            try tx.execute("UPDATE dir_entries SET parent = $1, name = $2 WHERE parent = $3 AND name = $4",
                           [.bigint(try key(toParent)), .text(toName), .bigint(try key(fromParent)), .text(fromName)])
            if movesDirectory && fromParent != toParent {
                // The moved directory's ".." now counts toward the new parent.
                try adjustLinks(tx, fromParent, by: -1)
                try adjustLinks(tx, toParent, by: 1)
            }
            try tx.execute("UPDATE inodes SET ctime = $1 WHERE id = $2", [.double(now), .bigint(try key(source.inode))])
            try touch(tx, fromParent, now: now)
            if toParent != fromParent { try touch(tx, toParent, now: now) }
        }
    }

    @discardableResult
    public func setSize(_ id: InodeID, size: Int64) throws(MetaError) -> Inode {
        if size < 0 { throw .invalidSize(inode: id, size: size) }
        return try write(locking: Self.lockKey(id)) { tx in
            let now = Clock.now()
            guard var inode = try inode(tx, id) else { throw MetaError.noSuchInode(id) }
            switch inode.kind {
            case .directory: throw MetaError.isDirectory(inode: id, name: nil)
            case .symlink: throw MetaError.invalidSize(inode: id, size: size)
            case .file: break
            }
            let k = try key(id)
            try tx.execute("UPDATE inodes SET size = $1, mtime = $2, ctime = $2 WHERE id = $3", [.bigint(size), .double(now), .bigint(k)])
            // Bytes past a smaller size are gone: growing the file again must read zeros there,
            // not the old data (the stripes stay until collection finds them unreferenced).
            try tx.execute("DELETE FROM extents WHERE inode = $1 AND file_offset >= $2", [.bigint(k), .bigint(size)])
            try tx.execute("UPDATE extents SET length = $1 - file_offset WHERE inode = $2 AND file_offset + length > $1",
                           [.bigint(size), .bigint(k)])
            inode.size = size
            inode.mtime = now
            inode.ctime = now
            return inode
        }
    }

    @discardableResult
    public func setAttributes(_ id: InodeID, mode: UInt32?, uid: UInt32?, gid: UInt32?, mtime: Double?) throws(MetaError) -> Inode {
        try write(locking: Self.lockKey(id)) { tx in
            let now = Clock.now()
            guard var inode = try inode(tx, id) else { throw MetaError.noSuchInode(id) }
            if let mode { inode.mode = mode & 0o7777 }
            if let uid { inode.uid = uid }
            if let gid { inode.gid = gid }
            if let mtime { inode.mtime = mtime }
            inode.ctime = now
            try tx.execute("UPDATE inodes SET mode = $1, uid = $2, gid = $3, mtime = $4, ctime = $5 WHERE id = $6",
                           [.int(inode.mode), .int(inode.uid), .int(inode.gid), .double(inode.mtime), .double(now), .bigint(try key(id))])
            return inode
        }
    }

    // MARK: Helpers (run inside a transaction)

    /// The database key of `id`; ids beyond `Int64.max` cannot exist.
    func key(_ id: InodeID) throws(MetaError) -> Int64 {
        guard let k = Int64(exactly: id.rawValue) else { throw .noSuchInode(id) }
        return k
    }

    func create(parent: InodeID, name: String, kind: InodeKind, mode: UInt32, uid: UInt32, gid: UInt32,
                target: String?) throws(MetaError) -> Inode {
        try EntryName.validate(name)
        return try write(locking: Self.lockKey(parent)) { tx in
            let now = Clock.now()
            _ = try directory(tx, parent)
            if try entry(tx, parent, name) != nil { throw MetaError.exists(parent: parent, name: name) }
            let size = Int64(target?.utf8.count ?? 0)
            let nlink: UInt32 = kind == .directory ? 2 : 1
            let id = try insertInode(tx, kind: kind, mode: mode & 0o7777, uid: uid, gid: gid, size: size, nlink: nlink,
                                     mtime: now, ctime: now, target: target)
            try tx.execute("INSERT INTO dir_entries (parent, name, inode, kind) VALUES ($1, $2, $3, $4)",
                           [.bigint(try key(parent)), .text(name), .bigint(try key(id)), .text(kind.rawValue)])
            if kind == .directory { try adjustLinks(tx, parent, by: 1) }
            try touch(tx, parent, now: now)
            return Inode(id: id, kind: kind, mode: mode & 0o7777, uid: uid, gid: gid, size: size, nlink: nlink,
                         mtime: now, ctime: now, symlinkTarget: target)
        }
    }

    func insertInode(_ tx: PostgresTransaction, kind: InodeKind, mode: UInt32, uid: UInt32, gid: UInt32, size: Int64, nlink: UInt32,
                     mtime: Double, ctime: Double, target: String?) throws -> InodeID {
        guard let row = try tx.row(
            """
            INSERT INTO inodes (kind, mode, uid, gid, size, nlink, mtime, ctime, symlink_target)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id
            """,
            [.text(kind.rawValue), .int(mode), .int(uid), .int(gid), .bigint(size), .int(nlink), .double(mtime), .double(ctime),
             .optional(target)],
            table: "inodes", key: "new") else {
            throw MetaError.database(path: location, reason: "INSERT … RETURNING id returned no row")
        }
        return try inodeID(row, "id")
    }

    /// The inode `id`, `nil` when there is none.
    func inode(_ tx: PostgresTransaction, _ id: InodeID) throws -> Inode? {
        guard let k = Int64(exactly: id.rawValue),
              let row = try tx.row("SELECT * FROM inodes WHERE id = $1", [.bigint(k)], table: "inodes", key: "\(id.rawValue)") else {
            return nil
        }
        return try decodeInode(row, id: id)
    }

    /// The inodes among `ids` that exist, read with one statement.
    func inodes(_ tx: PostgresTransaction, _ ids: [InodeID]) throws -> [InodeID: Inode] {
        let keys = Array(Set(ids.compactMap { Int64(exactly: $0.rawValue) }))
        guard !keys.isEmpty else { return [:] }
        var found: [InodeID: Inode] = [:]
        for r in try tx.rows("SELECT * FROM inodes WHERE id = ANY($1)", [.bigints(keys)]) {
            let id = try inodeID(tx.reader(r, table: "inodes", key: "?"), "id")
            found[id] = try decodeInode(tx.reader(r, table: "inodes", key: "\(id.rawValue)"), id: id)
        }
        return found
    }

    /// The directory `id`: `.noSuchInode` when absent, `.notDirectory` when something else.
    func directory(_ tx: PostgresTransaction, _ id: InodeID) throws -> Inode {
        guard let inode = try inode(tx, id) else { throw MetaError.noSuchInode(id) }
        guard inode.kind == .directory else { throw MetaError.notDirectory(inode: id, name: nil) }
        return inode
    }

    func entry(_ tx: PostgresTransaction, _ parent: InodeID, _ name: String) throws -> (inode: InodeID, kind: InodeKind)? {
        guard let row = try tx.row("SELECT inode, kind FROM dir_entries WHERE parent = $1 AND name = $2",
                                   [.bigint(try key(parent)), .text(name)], table: "dir_entries", key: "\(parent.rawValue)/\(name)") else {
            return nil
        }
        return (try inodeID(row, "inode"), try kind(row, "kind"))
    }

    private func hasEntries(_ tx: PostgresTransaction, _ dir: InodeID) throws -> Bool {
        try tx.row("SELECT EXISTS (SELECT 1 FROM dir_entries WHERE parent = $1) AS any", [.bigint(try key(dir))],
                   table: "dir_entries", key: "\(dir.rawValue)/*")?.bool("any") ?? false
    }

    func removeEntry(_ tx: PostgresTransaction, _ parent: InodeID, _ name: String) throws {
        try tx.execute("DELETE FROM dir_entries WHERE parent = $1 AND name = $2", [.bigint(try key(parent)), .text(name)])
    }

    /// One fewer entry names the file or symlink `id`; the inode goes when none is left.
    func dropLink(_ tx: PostgresTransaction, _ id: InodeID, now: Double) throws {
        let k = try key(id)
        try tx.execute("UPDATE inodes SET nlink = nlink - 1, ctime = $1 WHERE id = $2", [.double(now), .bigint(k)])
        try tx.execute("DELETE FROM inodes WHERE id = $1 AND nlink <= 0", [.bigint(k)])
    }

    func adjustLinks(_ tx: PostgresTransaction, _ id: InodeID, by delta: Int) throws {
        try tx.execute("UPDATE inodes SET nlink = nlink + $1 WHERE id = $2", [.int(delta), .bigint(try key(id))])
    }

    /// The directory `id` changed its entries.
    func touch(_ tx: PostgresTransaction, _ id: InodeID, now: Double) throws {
        try tx.execute("UPDATE inodes SET mtime = $1, ctime = $1 WHERE id = $2", [.double(now), .bigint(try key(id))])
    }

    /// The parent directory of directory `id`, `nil` for the root (or a detached directory).
    func parentDirectory(_ tx: PostgresTransaction, of id: InodeID) throws -> InodeID? {
        guard let row = try tx.row("SELECT parent FROM dir_entries WHERE inode = $1 AND kind = 'directory' LIMIT 1",
                                   [.bigint(try key(id))], table: "dir_entries", key: "?/\(id.rawValue)") else { return nil }
        return try inodeID(row, "parent")
    }

    /// Throws `.invalidMove` when `destination` is directory `moved` or lies below it.
    private func refuseMoveIntoSubtree(_ tx: PostgresTransaction, _ moved: InodeID, name: String, destination: InodeID) throws {
        var current = destination
        var seen: Set<InodeID> = []
        while current != .root {
            if current == moved { throw MetaError.invalidMove(inode: moved, name: name, destination: destination) }
            guard seen.insert(current).inserted else {
                throw MetaError.corrupt(path: location, table: "dir_entries", key: "\(current.rawValue)",
                                        reason: "the directory tree has a cycle through \(current)")
            }
            guard let parent = try parentDirectory(tx, of: current) else { return }
            current = parent
        }
    }

    // MARK: Decoding

    func decodeInode(_ row: PostgresRowReader, id: InodeID) throws(MetaError) -> Inode {
        let kind = try kind(row, "kind")
        let size = try row.int64("size")
        guard size >= 0 else { throw row.corrupt("negative size \(size)") }
        let target = try row.optionalString("symlink_target")
        guard (kind == .symlink) == (target != nil) else { throw row.corrupt("symlink target does not match kind \(kind)") }
        return Inode(id: id, kind: kind, mode: try row.uint32("mode"), uid: try row.uint32("uid"), gid: try row.uint32("gid"),
                     size: size, nlink: try row.uint32("nlink"), mtime: try row.double("mtime"), ctime: try row.double("ctime"),
                     symlinkTarget: target)
    }

    func inodeID(_ row: PostgresRowReader, _ column: String) throws(MetaError) -> InodeID {
        let v = try row.int64(column)
        guard v > 0 else { throw row.corrupt("column \(column) holds \(v), not an inode number") }
        return InodeID(UInt64(v))
    }

    private func kind(_ row: PostgresRowReader, _ column: String) throws(MetaError) -> InodeKind {
        let text = try row.string(column)
        guard let kind = InodeKind(rawValue: text) else { throw row.corrupt("unknown inode kind '\(text)'") }
        return kind
    }
}
