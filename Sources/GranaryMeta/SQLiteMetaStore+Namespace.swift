import GRDB

extension SQLiteMetaStore {
    public func lookup(parent: InodeID, name: String) throws(MetaError) -> Inode? {
        try EntryName.validate(name)
        return try read { db in
            _ = try directory(db, parent)
            guard let e = try entry(db, parent, name) else { return nil }
            return try existingInode(db, e.inode, table: "dir_entries", key: "\(parent.rawValue)/\(name)")
        }
    }

    public func getattr(_ id: InodeID) throws(MetaError) -> Inode {
        try read { db in
            guard let inode = try inode(db, id) else { throw MetaError.noSuchInode(id) }
            return inode
        }
    }

    public func getattrs(_ ids: [InodeID]) throws(MetaError) -> [Inode?] {
        try read { db in try ids.map { id in try inode(db, id) } }
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
        try read { db in
            _ = try directory(db, id)
            // BINARY collation: byte order of the UTF-8, the order `readdir` promises.
            let rows = try Row.fetchAll(
                db, sql: "SELECT name, inode, kind FROM dir_entries WHERE parent = ? ORDER BY name",
                arguments: [try key(id)])
            return try rows.map { row throws(MetaError) in
                let name = try fields(row, table: "dir_entries", key: "\(id.rawValue)/?").get("name", as: String.self)
                let f = fields(row, table: "dir_entries", key: "\(id.rawValue)/\(name)")
                return DirEntry(name: name, inode: try inodeID(f, "inode"), kind: try kind(f, "kind"))
            }
        }
    }

    public func unlink(parent: InodeID, name: String) throws(MetaError) {
        try EntryName.validate(name)
        try write { db in
            let now = Clock.now()
            _ = try directory(db, parent)
            guard let e = try entry(db, parent, name) else { throw MetaError.notFound(parent: parent, name: name) }
            if e.kind == .directory { throw MetaError.isDirectory(inode: e.inode, name: name) }
            try removeEntry(db, parent, name)
            try dropLink(db, e.inode, now: now)
            try touch(db, parent, now: now)
        }
    }

    public func rmdir(parent: InodeID, name: String) throws(MetaError) {
        try EntryName.validate(name)
        try write { db in
            let now = Clock.now()
            _ = try directory(db, parent)
            guard let e = try entry(db, parent, name) else { throw MetaError.notFound(parent: parent, name: name) }
            guard e.kind == .directory else { throw MetaError.notDirectory(inode: e.inode, name: name) }
            if try hasEntries(db, e.inode) { throw MetaError.notEmpty(inode: e.inode, name: name) }
            try removeEntry(db, parent, name)
            try db.execute(sql: "DELETE FROM inodes WHERE id = ?", arguments: [try key(e.inode)])
            try adjustLinks(db, parent, by: -1)
            try touch(db, parent, now: now)
        }
    }

    public func rename(fromParent: InodeID, fromName: String, toParent: InodeID, toName: String) throws(MetaError) {
        try EntryName.validate(fromName)
        try EntryName.validate(toName)
        try write { db in
            let now = Clock.now()
            _ = try directory(db, fromParent)
            _ = try directory(db, toParent)
            guard let source = try entry(db, fromParent, fromName) else {
                throw MetaError.notFound(parent: fromParent, name: fromName)
            }
            if fromParent == toParent && fromName == toName { return }
            let movesDirectory = source.kind == .directory
            if movesDirectory && fromParent != toParent {
                try refuseMoveIntoSubtree(db, source.inode, name: fromName, destination: toParent)
            }
            if let target = try entry(db, toParent, toName) {
                // Two entries for one inode (not possible without hard links): POSIX says do nothing.
                if target.inode == source.inode { return }
                if target.kind == .directory {
                    guard movesDirectory else { throw MetaError.isDirectory(inode: target.inode, name: toName) }
                    if try hasEntries(db, target.inode) { throw MetaError.notEmpty(inode: target.inode, name: toName) }
                    try removeEntry(db, toParent, toName)
                    try db.execute(sql: "DELETE FROM inodes WHERE id = ?", arguments: [try key(target.inode)])
                    try adjustLinks(db, toParent, by: -1)
                } else {
                    guard !movesDirectory else { throw MetaError.notDirectory(inode: target.inode, name: toName) }
                    try removeEntry(db, toParent, toName)
                    try dropLink(db, target.inode, now: now)
                }
            }
            try db.execute(
                sql: "UPDATE dir_entries SET parent = ?, name = ? WHERE parent = ? AND name = ?",
                arguments: [try key(toParent), toName, try key(fromParent), fromName])
            if movesDirectory && fromParent != toParent {
                // The moved directory's ".." now counts toward the new parent.
                try adjustLinks(db, fromParent, by: -1)
                try adjustLinks(db, toParent, by: 1)
            }
            try db.execute(sql: "UPDATE inodes SET ctime = ? WHERE id = ?", arguments: [now, try key(source.inode)])
            try touch(db, fromParent, now: now)
            if toParent != fromParent { try touch(db, toParent, now: now) }
        }
    }

    @discardableResult
    public func setSize(_ id: InodeID, size: Int64) throws(MetaError) -> Inode {
        if size < 0 { throw .invalidSize(inode: id, size: size) }
        return try write { db in
            let now = Clock.now()
            guard var inode = try inode(db, id) else { throw MetaError.noSuchInode(id) }
            switch inode.kind {
            case .directory: throw MetaError.isDirectory(inode: id, name: nil)
            case .symlink: throw MetaError.invalidSize(inode: id, size: size)
            case .file: break
            }
            try db.execute(sql: "UPDATE inodes SET size = ?, mtime = ?, ctime = ? WHERE id = ?",
                           arguments: [size, now, now, try key(id)])
            // Bytes past a smaller size are gone: growing the file again must read zeros there,
            // not the old data (the stripes stay until collection finds them unreferenced).
            try db.execute(sql: "DELETE FROM extents WHERE inode = ? AND file_offset >= ?", arguments: [try key(id), size])
            try db.execute(sql: "UPDATE extents SET length = ? - file_offset WHERE inode = ? AND file_offset + length > ?",
                           arguments: [size, try key(id), size])
            inode.size = size
            inode.mtime = now
            inode.ctime = now
            return inode
        }
    }

    @discardableResult
    public func setAttributes(_ id: InodeID, mode: UInt32?, uid: UInt32?, gid: UInt32?, mtime: Double?) throws(MetaError) -> Inode {
        try write { db in
            let now = Clock.now()
            guard var inode = try inode(db, id) else { throw MetaError.noSuchInode(id) }
            if let mode { inode.mode = mode & 0o7777 }
            if let uid { inode.uid = uid }
            if let gid { inode.gid = gid }
            if let mtime { inode.mtime = mtime }
            inode.ctime = now
            try db.execute(sql: "UPDATE inodes SET mode = ?, uid = ?, gid = ?, mtime = ?, ctime = ? WHERE id = ?",
                           arguments: [Int64(inode.mode), Int64(inode.uid), Int64(inode.gid), inode.mtime, now, try key(id)])
            return inode
        }
    }

    // MARK: Helpers (run inside a transaction)

    /// The SQLite key of `id`; ids beyond `Int64.max` cannot exist.
    func key(_ id: InodeID) throws(MetaError) -> Int64 {
        guard let k = Int64(exactly: id.rawValue) else { throw .noSuchInode(id) }
        return k
    }

    func create(parent: InodeID, name: String, kind: InodeKind, mode: UInt32, uid: UInt32, gid: UInt32,
                        target: String?) throws(MetaError) -> Inode {
        try EntryName.validate(name)
        return try write { db in
            let now = Clock.now()
            _ = try directory(db, parent)
            if try entry(db, parent, name) != nil { throw MetaError.exists(parent: parent, name: name) }
            let size = Int64(target?.utf8.count ?? 0)
            let nlink: UInt32 = kind == .directory ? 2 : 1
            try db.execute(
                sql: """
                    INSERT INTO inodes (kind, mode, uid, gid, size, nlink, mtime, ctime, symlink_target)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [kind.rawValue, Int64(mode & 0o7777), Int64(uid), Int64(gid), size, Int64(nlink), now, now,
                            target])
            let id = InodeID(UInt64(db.lastInsertedRowID))
            try db.execute(sql: "INSERT INTO dir_entries (parent, name, inode, kind) VALUES (?, ?, ?, ?)",
                           arguments: [try key(parent), name, try key(id), kind.rawValue])
            if kind == .directory { try adjustLinks(db, parent, by: 1) }
            try touch(db, parent, now: now)
            return Inode(id: id, kind: kind, mode: mode & 0o7777, uid: uid, gid: gid, size: size, nlink: nlink,
                         mtime: now, ctime: now, symlinkTarget: target)
        }
    }

    /// The inode `id`, `nil` when there is none.
    func inode(_ db: Database, _ id: InodeID) throws -> Inode? {
        guard let k = Int64(exactly: id.rawValue),
              let row = try Row.fetchOne(db, sql: "SELECT * FROM inodes WHERE id = ?", arguments: [k]) else { return nil }
        return try decodeInode(row, id: id)
    }

    /// The inode an entry points to, which must exist (foreign keys guarantee it).
    private func existingInode(_ db: Database, _ id: InodeID, table: String, key: String) throws -> Inode {
        guard let inode = try inode(db, id) else {
            throw MetaError.corrupt(path: path, table: table, key: key, reason: "it names \(id), which does not exist")
        }
        return inode
    }

    /// The directory `id`: `.noSuchInode` when absent, `.notDirectory` when something else.
    func directory(_ db: Database, _ id: InodeID) throws -> Inode {
        guard let inode = try inode(db, id) else { throw MetaError.noSuchInode(id) }
        guard inode.kind == .directory else { throw MetaError.notDirectory(inode: id, name: nil) }
        return inode
    }

    func entry(_ db: Database, _ parent: InodeID, _ name: String) throws -> (inode: InodeID, kind: InodeKind)? {
        guard let row = try Row.fetchOne(
            db, sql: "SELECT inode, kind FROM dir_entries WHERE parent = ? AND name = ?",
            arguments: [try key(parent), name]) else { return nil }
        let f = fields(row, table: "dir_entries", key: "\(parent.rawValue)/\(name)")
        return (try inodeID(f, "inode"), try kind(f, "kind"))
    }

    private func hasEntries(_ db: Database, _ dir: InodeID) throws -> Bool {
        try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM dir_entries WHERE parent = ?)",
                          arguments: [try key(dir)]) ?? false
    }

    func removeEntry(_ db: Database, _ parent: InodeID, _ name: String) throws {
        try db.execute(sql: "DELETE FROM dir_entries WHERE parent = ? AND name = ?", arguments: [try key(parent), name])
    }

    /// One fewer entry names the file or symlink `id`; the inode goes when none is left.
    func dropLink(_ db: Database, _ id: InodeID, now: Double) throws {
        let k = try key(id)
        try db.execute(sql: "UPDATE inodes SET nlink = nlink - 1, ctime = ? WHERE id = ?", arguments: [now, k])
        try db.execute(sql: "DELETE FROM inodes WHERE id = ? AND nlink <= 0", arguments: [k])
    }

    func adjustLinks(_ db: Database, _ id: InodeID, by delta: Int) throws {
        try db.execute(sql: "UPDATE inodes SET nlink = nlink + ? WHERE id = ?", arguments: [delta, try key(id)])
    }

    /// The directory `id` changed its entries.
    func touch(_ db: Database, _ id: InodeID, now: Double) throws {
        try db.execute(sql: "UPDATE inodes SET mtime = ?, ctime = ? WHERE id = ?", arguments: [now, now, try key(id)])
    }

    /// Throws `.invalidMove` when `destination` is directory `moved` or lies below it.
    private func refuseMoveIntoSubtree(_ db: Database, _ moved: InodeID, name: String, destination: InodeID) throws {
        var current = destination
        var seen: Set<InodeID> = []
        while current != .root {
            if current == moved { throw MetaError.invalidMove(inode: moved, name: name, destination: destination) }
            guard seen.insert(current).inserted else {
                throw MetaError.corrupt(path: path, table: "dir_entries", key: "\(current.rawValue)",
                                        reason: "the directory tree has a cycle through \(current)")
            }
            guard let row = try Row.fetchOne(
                db, sql: "SELECT parent FROM dir_entries WHERE inode = ? AND kind = 'directory' LIMIT 1",
                arguments: [try key(current)]) else { return }
            current = try inodeID(fields(row, table: "dir_entries", key: "?/\(current.rawValue)"), "parent")
        }
    }

    // MARK: Decoding

    func decodeInode(_ row: Row, id: InodeID) throws(MetaError) -> Inode {
        let f = fields(row, table: "inodes", key: "\(id.rawValue)")
        let kind = try kind(f, "kind")
        let size = try f.get("size", as: Int64.self)
        guard size >= 0 else { throw f.corrupt("negative size \(size)") }
        let target = try f.get("symlink_target", as: String?.self)
        guard (kind == .symlink) == (target != nil) else { throw f.corrupt("symlink target does not match kind \(kind)") }
        return Inode(id: id, kind: kind, mode: try f.uint32("mode"), uid: try f.uint32("uid"), gid: try f.uint32("gid"),
                     size: size, nlink: try f.uint32("nlink"), mtime: try f.get("mtime"), ctime: try f.get("ctime"),
                     symlinkTarget: target)
    }

    func inodeID(_ f: Fields, _ column: String) throws(MetaError) -> InodeID {
        let v = try f.get(column, as: Int64.self)
        guard v > 0 else { throw f.corrupt("column \(column) holds \(v), not an inode number") }
        return InodeID(UInt64(v))
    }

    private func kind(_ f: Fields, _ column: String) throws(MetaError) -> InodeKind {
        let text = try f.get(column, as: String.self)
        guard let kind = InodeKind(rawValue: text) else { throw f.corrupt("unknown inode kind '\(text)'") }
        return kind
    }
}
