import GranaryCore

/// One metadata operation sent to a manager: the `MetaStore` methods a client may call, as a value
/// that travels as JSON. `run(on:)` applies it to a store and never throws: a failure comes back as
/// `MetaReply.failed` carrying the typed `MetaError`, so the client sees the same error a local
/// store would have thrown.
public enum MetaRequest: Codable, Sendable, Equatable {
    case lookup(parent: InodeID, name: String)
    case getattr(InodeID)
    case resolve(path: String)
    case mkdir(parent: InodeID, name: String, mode: UInt32, uid: UInt32, gid: UInt32)
    case mkdirAll(path: String, mode: UInt32, uid: UInt32, gid: UInt32)
    case createFile(parent: InodeID, name: String, mode: UInt32, uid: UInt32, gid: UInt32)
    case symlink(parent: InodeID, name: String, target: String, uid: UInt32, gid: UInt32)
    case readdir(InodeID)
    case setAttributes(InodeID, mode: UInt32?, uid: UInt32?, gid: UInt32?, mtime: Double?)
    case setSize(InodeID, size: Int64)
    /// The entries of a directory with the attributes of each (one round trip for `ls -l` and
    /// FUSE's readdirplus); an entry removed between the two reads is left out.
    case readdirPlus(InodeID)
    case unlink(parent: InodeID, name: String)
    case rmdir(parent: InodeID, name: String)
    case rename(fromParent: InodeID, fromName: String, toParent: InodeID, toName: String)
    case allocateStripes(count: Int)
    case commitFiles(stripes: [Stripe], files: [NewFile])
    case rewriteFile(InodeID, replacing: [Extent], with: [Extent], stripes: [Stripe], size: Int64)
    case fileMap(InodeID)
    /// Many files' maps in one round trip (`FileMapBatch`).
    case fileMaps([InodeID])
    /// Many inodes' attributes in one round trip.
    case getattrs([InodeID])
    case stripes([UInt64])
    case stripeCensus
    case layout(InodeID)
    case effectiveLayout(InodeID)
    case setLayout(InodeID, StripeLayout?)

    /// Whether repeating the request after a lost answer is harmless. Creations and removals are
    /// not: a retry after a lost answer would report `.exists` or `.notFound` for our own success.
    public var isIdempotent: Bool {
        switch self {
        case .lookup, .getattr, .resolve, .readdir, .readdirPlus, .setAttributes, .setSize, .fileMap, .fileMaps, .getattrs, .stripes, .stripeCensus, .layout, .effectiveLayout, .setLayout, .mkdirAll: return true
        case .mkdir, .createFile, .symlink, .unlink, .rmdir, .rename, .allocateStripes, .commitFiles, .rewriteFile: return false
        }
    }

    /// Applies the request to `store`.
    public func run(on store: any MetaStore) -> MetaReply {
        do throws(MetaError) {
            switch self {
            case let .lookup(parent, name): return .maybeInode(try store.lookup(parent: parent, name: name))
            case let .getattr(id): return .inode(try store.getattr(id))
            case let .resolve(path): return .inode(try store.resolve(path: path))
            case let .mkdir(parent, name, mode, uid, gid): return .inode(try store.mkdir(parent: parent, name: name, mode: mode, uid: uid, gid: gid))
            case let .mkdirAll(path, mode, uid, gid): return .inode(try store.mkdirAll(path: path, mode: mode, uid: uid, gid: gid))
            case let .createFile(parent, name, mode, uid, gid):
                return .inode(try store.createFile(parent: parent, name: name, mode: mode, uid: uid, gid: gid))
            case let .symlink(parent, name, target, uid, gid):
                return .inode(try store.symlink(parent: parent, name: name, target: target, uid: uid, gid: gid))
            case let .readdir(id): return .entries(try store.readdir(id))
            case let .setAttributes(id, mode, uid, gid, mtime):
                return .inode(try store.setAttributes(id, mode: mode, uid: uid, gid: gid, mtime: mtime))
            case let .setSize(id, size): return .inode(try store.setSize(id, size: size))
            case let .readdirPlus(id):
                var entries: [DirEntry] = []
                var inodes: [Inode] = []
                for e in try store.readdir(id) {
                    do throws(MetaError) {
                        inodes.append(try store.getattr(e.inode))
                        entries.append(e)
                    } catch {
                        if case .noSuchInode = error { continue }
                        throw error
                    }
                }
                return .listing(entries, inodes)
            case let .unlink(parent, name): try store.unlink(parent: parent, name: name); return .done
            case let .rmdir(parent, name): try store.rmdir(parent: parent, name: name); return .done
            case let .rename(fp, fn, tp, tn): try store.rename(fromParent: fp, fromName: fn, toParent: tp, toName: tn); return .done
            case let .allocateStripes(count): return .stripeID(try store.allocateStripes(count: count))
            case let .commitFiles(stripes, files): return .inodes(try store.commitFiles(stripes: stripes, files: files))
            case let .rewriteFile(id, expected, extents, stripes, size):
                return .inode(try store.rewriteFile(id, replacing: expected, with: extents, stripes: stripes, size: size))
            case let .fileMap(id): return .fileMap(try store.fileMap(id))
            case let .fileMaps(ids): return .fileMaps(try store.fileMaps(ids))
            case let .getattrs(ids): return .maybeInodes(try store.getattrs(ids))
            case let .stripes(ids): return .stripes(try store.stripes(ids))
            case .stripeCensus: return .census(try store.stripeCensus())
            case let .layout(id): return .layout(try store.layout(of: id))
            case let .effectiveLayout(id): return .layout(try store.effectiveLayout(of: id))
            case let .setLayout(id, layout): try store.setLayout(id, layout); return .done
            }
        } catch {
            return .failed(error)
        }
    }
}

/// A manager's answer to a `MetaRequest`: the result, or the typed error the store threw.
public enum MetaReply: Codable, Sendable, Equatable {
    case done
    case inode(Inode)
    case maybeInode(Inode?)
    case inodes([Inode])
    case entries([DirEntry])
    case listing([DirEntry], [Inode])
    case stripeID(UInt64)
    case fileMap(FileMap)
    case fileMaps(FileMapBatch)
    case maybeInodes([Inode?])
    case stripes([Stripe])
    case census([StripeCensus])
    case layout(StripeLayout?)
    case failed(MetaError)
}
