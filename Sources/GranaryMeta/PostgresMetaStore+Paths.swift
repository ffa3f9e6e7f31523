extension PostgresMetaStore {
    public func resolve(path: String) throws(MetaError) -> Inode {
        let parts = try MetaRules.pathComponents(path)
        return try read { tx in
            var current = try directory(tx, .root)
            for name in parts {
                guard current.kind == .directory else { throw MetaError.noSuchPath(path) }
                guard let e = try entry(tx, current.id, name),
                      let next = try inode(tx, e.inode) else { throw MetaError.noSuchPath(path) }
                current = next
            }
            return current
        }
    }

    public func mkdirAll(path: String, mode: UInt32, uid: UInt32, gid: UInt32) throws(MetaError) -> Inode {
        let parts = try MetaRules.pathComponents(path)
        var current = try getattr(.root)
        for name in parts {
            if let existing = try lookup(parent: current.id, name: name) {
                guard existing.kind == .directory else { throw .notDirectory(inode: existing.id, name: name) }
                current = existing
                continue
            }
            do {
                current = try mkdir(parent: current.id, name: name, mode: mode, uid: uid, gid: gid)
            } catch .exists {
                // Another creator won the race: use theirs if it is a directory.
                guard let other = try lookup(parent: current.id, name: name), other.kind == .directory else {
                    throw .notDirectory(inode: current.id, name: name)
                }
                current = other
            }
        }
        return current
    }
}
