import GranaryCore
import GranaryMeta
import GranaryTransport
import GranaryWire

/// The namespace and file metadata, asked of the cluster's managers.
///
/// Guarantees each call is one `MetaRequest` applied atomically by the manager's store; a refusal
/// comes back as `ClientError.meta` with the store's typed error (so `errno` is available), an
/// unreachable manager moves on to the next one, and only idempotent requests are retried.
public struct MetaClient: Sendable {
    public let managers: [Endpoint]
    public let transport: any Transport

    public init(managers: [Endpoint], transport: any Transport) {
        self.managers = managers
        self.transport = transport
    }

    /// Sends `request` and returns the manager's reply, a `.failed` reply becoming `.meta`.
    public func call(_ request: MetaRequest) async throws(ClientError) -> MetaReply {
        let body: [UInt8]
        do {
            body = try await transport.callFirstAvailable(managers, .meta, JSONMessage.encode(request), idempotent: request.isIdempotent)
        } catch { throw .transport(error) }
        let reply: MetaReply
        do throws(WireError) { reply = try JSONMessage.decode(MetaReply.self, from: body, message: .meta) } catch {
            throw .transport(.protocolError(managers.first ?? Endpoint(host: "?", port: 1), error))
        }
        if case let .failed(e) = reply { throw .meta(e) }
        return reply
    }

    public func clusterMap() async throws(ClientError) -> ClusterMap {
        let body: [UInt8]
        do { body = try await transport.callFirstAvailable(managers, .getClusterMap, [], idempotent: true) } catch { throw .transport(error) }
        do throws(WireError) { return try JSONMessage.decode(ClusterMap.self, from: body, message: .getClusterMap) } catch {
            throw .transport(.protocolError(managers.first ?? Endpoint(host: "?", port: 1), error))
        }
    }

    public func resolve(_ path: String) async throws(ClientError) -> Inode { try inode(await call(.resolve(path: path))) }
    public func getattr(_ id: InodeID) async throws(ClientError) -> Inode { try inode(await call(.getattr(id))) }
    public func lookup(_ parent: InodeID, _ name: String) async throws(ClientError) -> Inode? {
        if case let .maybeInode(i) = try await call(.lookup(parent: parent, name: name)) { return i }
        throw unexpected("an optional inode")
    }
    public func mkdir(_ parent: InodeID, _ name: String, mode: UInt32, uid: UInt32, gid: UInt32) async throws(ClientError) -> Inode {
        try inode(await call(.mkdir(parent: parent, name: name, mode: mode, uid: uid, gid: gid)))
    }
    public func symlink(_ parent: InodeID, _ name: String, target: String, uid: UInt32, gid: UInt32) async throws(ClientError) -> Inode {
        try inode(await call(.symlink(parent: parent, name: name, target: target, uid: uid, gid: gid)))
    }
    public func rename(_ fromParent: InodeID, _ fromName: String, to toParent: InodeID, _ toName: String) async throws(ClientError) {
        _ = try await call(.rename(fromParent: fromParent, fromName: fromName, toParent: toParent, toName: toName))
    }
    public func createFile(_ parent: InodeID, _ name: String, mode: UInt32, uid: UInt32, gid: UInt32) async throws(ClientError) -> Inode {
        try inode(await call(.createFile(parent: parent, name: name, mode: mode, uid: uid, gid: gid)))
    }
    @discardableResult
    public func setAttributes(_ id: InodeID, mode: UInt32? = nil, uid: UInt32? = nil, gid: UInt32? = nil, mtime: Double? = nil) async throws(ClientError) -> Inode {
        try inode(await call(.setAttributes(id, mode: mode, uid: uid, gid: gid, mtime: mtime)))
    }
    @discardableResult
    public func setSize(_ id: InodeID, _ size: Int64) async throws(ClientError) -> Inode {
        try inode(await call(.setSize(id, size: size)))
    }
    public func mkdirAll(_ path: String, mode: UInt32 = 0o755, uid: UInt32 = 0, gid: UInt32 = 0) async throws(ClientError) -> Inode {
        try inode(await call(.mkdirAll(path: path, mode: mode, uid: uid, gid: gid)))
    }
    public func readdir(_ id: InodeID) async throws(ClientError) -> [DirEntry] {
        if case let .entries(e) = try await call(.readdir(id)) { return e }
        throw unexpected("directory entries")
    }
    /// The entries of directory `id`, each with its attributes.
    public func readdirPlus(_ id: InodeID) async throws(ClientError) -> [(DirEntry, Inode)] {
        if case let .listing(e, i) = try await call(.readdirPlus(id)), e.count == i.count { return Array(zip(e, i)) }
        throw unexpected("directory entries with attributes")
    }
    public func unlink(_ parent: InodeID, _ name: String) async throws(ClientError) { _ = try await call(.unlink(parent: parent, name: name)) }
    public func rmdir(_ parent: InodeID, _ name: String) async throws(ClientError) { _ = try await call(.rmdir(parent: parent, name: name)) }
    public func allocateStripes(_ count: Int) async throws(ClientError) -> UInt64 {
        if case let .stripeID(id) = try await call(.allocateStripes(count: count)) { return id }
        throw unexpected("a stripe id")
    }
    @discardableResult
    public func commitFiles(stripes: [Stripe], files: [NewFile]) async throws(ClientError) -> [Inode] {
        if case let .inodes(i) = try await call(.commitFiles(stripes: stripes, files: files)) { return i }
        throw unexpected("inodes")
    }
    @discardableResult
    public func rewriteFile(_ id: InodeID, replacing expected: [Extent], with extents: [Extent], stripes: [Stripe], size: Int64) async throws(ClientError) -> Inode {
        try inode(await call(.rewriteFile(id, replacing: expected, with: extents, stripes: stripes, size: size)))
    }
    public func fileMap(_ id: InodeID) async throws(ClientError) -> FileMap {
        if case let .fileMap(m) = try await call(.fileMap(id)) { return m }
        throw unexpected("a file map")
    }
    /// The maps of many files in one round trip; `nil` for an inode that no longer exists.
    public func fileMaps(_ ids: [InodeID]) async throws(ClientError) -> FileMapBatch {
        if case let .fileMaps(b) = try await call(.fileMaps(ids)), b.files.count == ids.count { return b }
        throw unexpected("a file map batch")
    }
    /// The attributes of many inodes in one round trip; `nil` for one that no longer exists.
    public func getattrs(_ ids: [InodeID]) async throws(ClientError) -> [Inode?] {
        if case let .maybeInodes(i) = try await call(.getattrs(ids)), i.count == ids.count { return i }
        throw unexpected("attributes of \(ids.count) inodes")
    }
    public func stripes(_ ids: [UInt64]) async throws(ClientError) -> [Stripe] {
        if case let .stripes(s) = try await call(.stripes(ids)) { return s }
        throw unexpected("stripes")
    }
    public func stripeCensus() async throws(ClientError) -> [StripeCensus] {
        if case let .census(c) = try await call(.stripeCensus) { return c }
        throw unexpected("a stripe census")
    }
    public func effectiveLayout(_ id: InodeID) async throws(ClientError) -> StripeLayout? {
        if case let .layout(l) = try await call(.effectiveLayout(id)) { return l }
        throw unexpected("a layout")
    }
    public func setLayout(_ id: InodeID, _ layout: StripeLayout?) async throws(ClientError) { _ = try await call(.setLayout(id, layout)) }

    private func inode(_ reply: MetaReply) throws(ClientError) -> Inode {
        if case let .inode(i) = reply { return i }
        throw unexpected("an inode")
    }

    /// A reply of another kind than the request calls for.
    private func unexpected(_ expected: String) -> ClientError {
        .transport(.protocolError(managers.first ?? Endpoint(host: "?", port: 1), .malformed(type: .meta, field: "reply", reason: "expected \(expected)")))
    }
}
