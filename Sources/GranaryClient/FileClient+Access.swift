import GranaryMeta

extension FileClient {
    /// The inode at `path`, after checking that `settings.identity` may search every directory on
    /// the way and has `want` on the inode itself; with no identity (a trusted client: the mount,
    /// which leaves the check to the kernel, and the cluster's own services) it only resolves.
    /// A refusal names the path where it stopped and what was missing.
    public func authorize(_ path: String, _ want: AccessIdentity.Permission) async throws(ClientError) -> Inode {
        guard settings.identity != nil else { return try await meta.resolve(path) }
        var current = try await meta.getattr(.root)
        var walked = ""
        for name in path.split(separator: "/").map(String.init) {
            try require(.execute, on: current, at: walked.isEmpty ? "/" : walked)
            walked += "/" + name
            guard let next = try await meta.lookup(current.id, name) else {
                throw .meta(.notFound(parent: current.id, name: name))
            }
            current = next
        }
        try require(want, on: current, at: path)
        return current
    }

    /// Refuses unless `settings.identity` has `want` on `inode` (found at `path`, which the error
    /// names); a client without an identity passes.
    public func require(_ want: AccessIdentity.Permission, on inode: Inode, at path: String) throws(ClientError) {
        guard let who = settings.identity, !who.allows(inode, want) else { return }
        throw .permissionDenied(path: path, need: want.description, identity: who.description)
    }

    /// The owner a new file or directory gets: the identity's user and primary group, else root.
    var newOwner: (uid: UInt32, gid: UInt32) {
        guard let who = settings.identity else { return (0, 0) }
        return (who.uid, who.gids.first ?? 0)
    }
}
