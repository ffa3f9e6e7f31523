import GranaryClient
import GranaryMeta
import Testing

/// The client API's permission rule, case by case against what POSIX (and so the kernel on a
/// mount with default_permissions) decides.
@Suite struct AccessIdentityTests {
    static func inode(_ kind: InodeKind = .file, mode: UInt32, uid: UInt32 = 1000, gid: UInt32 = 100) -> Inode {
        Inode(id: .root, kind: kind, mode: mode, uid: uid, gid: gid, size: 0, nlink: 1, mtime: 0, ctime: 0)
    }

    let owner = AccessIdentity(uid: 1000, gids: [1000])
    let member = AccessIdentity(uid: 2000, gids: [2000, 100])
    let other = AccessIdentity(uid: 3000, gids: [3000])
    let root = AccessIdentity(uid: 0, gids: [0])

    @Test func eachClassGetsItsOwnBitsAndNoMore() {
        let f = Self.inode(mode: 0o640)
        #expect(owner.allows(f, [.read, .write]) && !owner.allows(f, .execute))
        #expect(member.allows(f, .read) && !member.allows(f, .write))
        #expect(!other.allows(f, .read))
        // POSIX picks one class: an owner whose own bits are empty gets nothing, even when others get more.
        let odd = Self.inode(mode: 0o007)
        #expect(!owner.allows(odd, .read) && !member.allows(odd, .read) && other.allows(odd, [.read, .write, .execute]))
    }

    @Test func directoriesNeedSearchToBeWalked() {
        let d = Self.inode(.directory, mode: 0o750)
        #expect(owner.allows(d, [.read, .write, .execute]))
        #expect(member.allows(d, [.read, .execute]) && !member.allows(d, .write))
        #expect(!other.allows(d, .execute))
        #expect(owner.allows(d, []) && other.allows(d, []))
    }

    @Test func rootPassesExceptExecutingANonExecutableFile() {
        #expect(root.allows(Self.inode(mode: 0o000), [.read, .write]))
        #expect(root.allows(Self.inode(.directory, mode: 0o000), [.read, .write, .execute]))
        #expect(!root.allows(Self.inode(mode: 0o644), .execute))
        #expect(root.allows(Self.inode(mode: 0o744), .execute))
    }

    @Test func refusalsNameThePathAndWhatWasMissing() {
        let e = ClientError.permissionDenied(path: "/home/alice", need: AccessIdentity.Permission.execute.description, identity: other.description)
        #expect(e.description == "/home/alice: permission denied (uid 3000, gid 3000 needs search permission)")
        #expect(AccessIdentity.Permission([.read, .write]).description == "read+write")
    }
}
