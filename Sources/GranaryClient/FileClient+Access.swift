import GranaryMeta

extension FileClient {
    /// The inode at `path`, after checking that `settings.identity` may search every directory on
    /// the way and has `want` on the inode itself; with no identity (a trusted client: the mount,
    /// which leaves the check to the kernel, and the cluster's own services) it only resolves.
    /// A refusal names the path where it stopped and what was missing.
    public func authorize(_ path: String, _ want: AccessIdentity.Permission) async throws(ClientError) -> Inode {
        guard let who = settings.identity else { return try await meta.resolve(path) }
        var current = try await meta.getattr(.root)
        var walked = ""
        for name in path.split(separator: "/").map(String.init) {
            guard who.allows(current, .execute) else {
                throw .permissionDenied(path: walked.isEmpty ? "/" : walked, need: "search", identity: who.description)
            }
            walked += "/" + name
            guard let next = try await meta.lookup(current.id, name) else {
                throw .meta(.notFound(parent: current.id, name: name))
            }
            current = next
        }
        guard who.allows(current, want) else {
            throw .permissionDenied(path: path, need: want.description, identity: who.description)
        }
        return current
    }

    /// The owner a new file or directory gets: the identity's user and primary group, else root.
    var newOwner: (uid: UInt32, gid: UInt32) {
        guard let who = settings.identity else { return (0, 0) }
        return (who.uid, who.gids.first ?? 0)
    }
}
