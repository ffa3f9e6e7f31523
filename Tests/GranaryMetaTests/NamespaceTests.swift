import GranaryMeta
import Testing

@Suite("Namespace")
struct NamespaceTests {
    @Test(arguments: Engine.all)
    func rootExistsAfterMigration(_ engine: Engine) throws {
        try engine.withStore { store, _ throws in
            let root = try store.getattr(.root)
            #expect(root.id == InodeID.root)
            #expect(root.id.rawValue == 1)
            #expect(root.kind == .directory)
            #expect(root.nlink == 2)
            #expect(root.mode == 0o755)
            #expect(try store.readdir(.root) == [])
        }
    }

    @Test(arguments: Engine.all)
    func mkdirCreateLookupReaddirGetattr(_ engine: Engine) throws {
        try engine.withStore { store, _ throws in
            let docs = try store.mkdir(parent: .root, name: "docs", mode: 0o40750, uid: 1000, gid: 100)
            #expect(docs.kind == .directory)
            #expect(docs.mode == 0o750)  // type bits are dropped: kind says what it is
            #expect(docs.nlink == 2)
            #expect(docs.id != .root)
            let file = try store.createFile(parent: docs.id, name: "b.txt", mode: 0o644, uid: 1000, gid: 100)
            let other = try store.createFile(parent: docs.id, name: "a.txt", mode: 0o600, uid: 0, gid: 0)
            let link = try store.symlink(parent: docs.id, name: "c", target: "b.txt", uid: 1000, gid: 100)
            let sub = try store.mkdir(parent: docs.id, name: "Z", mode: 0o755, uid: 0, gid: 0)

            #expect(try store.lookup(parent: .root, name: "docs") == docs.withTimes(of: try store.getattr(docs.id)))
            #expect(try store.lookup(parent: docs.id, name: "b.txt") == file)
            #expect(try store.lookup(parent: docs.id, name: "missing") == nil)
            #expect(try store.getattr(file.id) == file)
            #expect(file.kind == .file && file.size == 0 && file.nlink == 1 && file.uid == 1000 && file.gid == 100)
            #expect(link.kind == .symlink && link.symlinkTarget == "b.txt" && link.size == 5)
            #expect(try store.getattr(link.id).symlinkTarget == "b.txt")

            // Sorted by name bytes: uppercase before lowercase.
            #expect(try store.readdir(docs.id) == [
                DirEntry(name: "Z", inode: sub.id, kind: .directory),
                DirEntry(name: "a.txt", inode: other.id, kind: .file),
                DirEntry(name: "b.txt", inode: file.id, kind: .file),
                DirEntry(name: "c", inode: link.id, kind: .symlink),
            ])
            #expect(try store.readdir(.root).map(\.name) == ["docs"])
            // nlink: a directory counts its subdirectories' "..".
            #expect(try store.getattr(.root).nlink == 3)
            #expect(try store.getattr(docs.id).nlink == 3)
            // Unique ids.
            #expect(Set([docs.id, file.id, other.id, link.id, sub.id]).count == 5)
        }
    }

    @Test(arguments: Engine.all)
    func setSizeAndTimes(_ engine: Engine) throws {
        try engine.withStore { store, _ throws in
            let file = try store.createFile(parent: .root, name: "f", mode: 0o644, uid: 0, gid: 0)
            let grown = try store.setSize(file.id, size: 1 << 40)
            #expect(grown.size == 1 << 40)
            #expect(try store.getattr(file.id).size == 1 << 40)
            #expect(grown.mtime >= file.mtime)
            #expect(throws: MetaError.invalidSize(inode: file.id, size: -1)) { try store.setSize(file.id, size: -1) }
            #expect(throws: MetaError.isDirectory(inode: .root, name: nil)) { try store.setSize(.root, size: 0) }
            #expect(throws: MetaError.noSuchInode(InodeID(999))) { try store.setSize(InodeID(999), size: 0) }
            #expect(throws: MetaError.noSuchInode(InodeID(UInt64.max))) { try store.getattr(InodeID(UInt64.max)) }
            #expect(MetaError.noSuchInode(InodeID(999)).description == "inode 999 does not exist")
        }
    }

    @Test(arguments: Engine.all)
    func duplicateNameIsExists(_ engine: Engine) throws {
        try engine.withStore { store, _ throws in
            let first = try store.mkdir(parent: .root, name: "x", mode: 0o755, uid: 0, gid: 0)
            #expect(throws: MetaError.exists(parent: .root, name: "x")) {
                try store.createFile(parent: .root, name: "x", mode: 0o644, uid: 0, gid: 0)
            }
            #expect(throws: MetaError.exists(parent: .root, name: "x")) {
                try store.mkdir(parent: .root, name: "x", mode: 0o755, uid: 0, gid: 0)
            }
            #expect(try store.lookup(parent: .root, name: "x")?.id == first.id)
            #expect(try store.getattr(.root).nlink == 3)  // the failed mkdir left no trace
            #expect(MetaError.exists(parent: .root, name: "x").description == "directory inode 1 already has an entry 'x'")
        }
    }

    @Test(arguments: Engine.all)
    func parentMustBeAnExistingDirectory(_ engine: Engine) throws {
        try engine.withStore { store, _ throws in
            let file = try store.createFile(parent: .root, name: "f", mode: 0o644, uid: 0, gid: 0)
            #expect(throws: MetaError.notDirectory(inode: file.id, name: nil)) {
                try store.createFile(parent: file.id, name: "g", mode: 0o644, uid: 0, gid: 0)
            }
            #expect(throws: MetaError.notDirectory(inode: file.id, name: nil)) { try store.readdir(file.id) }
            #expect(throws: MetaError.noSuchInode(InodeID(12345))) {
                try store.mkdir(parent: InodeID(12345), name: "d", mode: 0o755, uid: 0, gid: 0)
            }
        }
    }

    @Test(arguments: Engine.all)
    func unlinkRemovesFilesAndSymlinksButNotDirectories(_ engine: Engine) throws {
        try engine.withStore { store, _ throws in
            let dir = try store.mkdir(parent: .root, name: "d", mode: 0o755, uid: 0, gid: 0)
            let file = try store.createFile(parent: .root, name: "f", mode: 0o644, uid: 0, gid: 0)
            let link = try store.symlink(parent: .root, name: "l", target: "/etc/passwd", uid: 0, gid: 0)
            #expect(throws: MetaError.isDirectory(inode: dir.id, name: "d")) { try store.unlink(parent: .root, name: "d") }
            try store.unlink(parent: .root, name: "f")
            try store.unlink(parent: .root, name: "l")
            #expect(try store.readdir(.root).map(\.name) == ["d"])
            #expect(throws: MetaError.noSuchInode(file.id)) { try store.getattr(file.id) }
            #expect(throws: MetaError.noSuchInode(link.id)) { try store.getattr(link.id) }
            #expect(throws: MetaError.notFound(parent: .root, name: "f")) { try store.unlink(parent: .root, name: "f") }
            #expect(MetaError.isDirectory(inode: dir.id, name: "d").description.contains("'d'"))
        }
    }

    @Test(arguments: Engine.all)
    func inodeNumbersAreNotReused(_ engine: Engine) throws {
        try engine.withStore { store, _ throws in
            let a = try store.createFile(parent: .root, name: "a", mode: 0o644, uid: 0, gid: 0)
            try store.unlink(parent: .root, name: "a")
            let b = try store.createFile(parent: .root, name: "a", mode: 0o644, uid: 0, gid: 0)
            #expect(b.id > a.id)
        }
    }

    @Test(arguments: Engine.all)
    func rmdirOnlyEmptyDirectories(_ engine: Engine) throws {
        try engine.withStore { store, _ throws in
            let dir = try store.mkdir(parent: .root, name: "d", mode: 0o755, uid: 0, gid: 0)
            _ = try store.createFile(parent: dir.id, name: "inside", mode: 0o644, uid: 0, gid: 0)
            let file = try store.createFile(parent: .root, name: "f", mode: 0o644, uid: 0, gid: 0)
            #expect(throws: MetaError.notEmpty(inode: dir.id, name: "d")) { try store.rmdir(parent: .root, name: "d") }
            #expect(throws: MetaError.notDirectory(inode: file.id, name: "f")) { try store.rmdir(parent: .root, name: "f") }
            #expect(throws: MetaError.notFound(parent: .root, name: "nope")) { try store.rmdir(parent: .root, name: "nope") }
            try store.unlink(parent: dir.id, name: "inside")
            try store.rmdir(parent: .root, name: "d")
            #expect(throws: MetaError.noSuchInode(dir.id)) { try store.getattr(dir.id) }
            #expect(try store.getattr(.root).nlink == 2)
            #expect(MetaError.notEmpty(inode: dir.id, name: "d").description.contains("'d'"))
        }
    }

    @Test(arguments: Engine.all)
    func renameMovesAndReplacesFiles(_ engine: Engine) throws {
        try engine.withStore { store, _ throws in
            let a = try store.mkdir(parent: .root, name: "a", mode: 0o755, uid: 0, gid: 0)
            let b = try store.mkdir(parent: .root, name: "b", mode: 0o755, uid: 0, gid: 0)
            let f = try store.createFile(parent: a.id, name: "f", mode: 0o644, uid: 0, gid: 0)
            let old = try store.createFile(parent: b.id, name: "g", mode: 0o644, uid: 0, gid: 0)
            try store.setSize(f.id, size: 10)

            // Replace an existing file in another directory: the old inode is gone.
            try store.rename(fromParent: a.id, fromName: "f", toParent: b.id, toName: "g")
            #expect(try store.readdir(a.id) == [])
            #expect(try store.readdir(b.id) == [DirEntry(name: "g", inode: f.id, kind: .file)])
            #expect(try store.getattr(f.id).size == 10)
            #expect(throws: MetaError.noSuchInode(old.id)) { try store.getattr(old.id) }

            // Rename within a directory, and onto itself (no-op).
            try store.rename(fromParent: b.id, fromName: "g", toParent: b.id, toName: "h")
            try store.rename(fromParent: b.id, fromName: "h", toParent: b.id, toName: "h")
            #expect(try store.readdir(b.id).map(\.name) == ["h"])
            #expect(throws: MetaError.notFound(parent: b.id, name: "g")) {
                try store.rename(fromParent: b.id, fromName: "g", toParent: a.id, toName: "x")
            }
        }
    }

    @Test(arguments: Engine.all)
    func renameDirectoriesFollowsPOSIX(_ engine: Engine) throws {
        try engine.withStore { store, _ throws in
            let a = try store.mkdir(parent: .root, name: "a", mode: 0o755, uid: 0, gid: 0)
            let sub = try store.mkdir(parent: a.id, name: "sub", mode: 0o755, uid: 0, gid: 0)
            let deep = try store.mkdir(parent: sub.id, name: "deep", mode: 0o755, uid: 0, gid: 0)
            let full = try store.mkdir(parent: .root, name: "full", mode: 0o755, uid: 0, gid: 0)
            _ = try store.createFile(parent: full.id, name: "x", mode: 0o644, uid: 0, gid: 0)
            let empty = try store.mkdir(parent: .root, name: "empty", mode: 0o755, uid: 0, gid: 0)
            let file = try store.createFile(parent: .root, name: "file", mode: 0o644, uid: 0, gid: 0)

            // Into itself or its own subtree.
            #expect(throws: MetaError.invalidMove(inode: a.id, name: "a", destination: deep.id)) {
                try store.rename(fromParent: .root, fromName: "a", toParent: deep.id, toName: "a2")
            }
            #expect(throws: MetaError.invalidMove(inode: a.id, name: "a", destination: a.id)) {
                try store.rename(fromParent: .root, fromName: "a", toParent: a.id, toName: "a")
            }
            // Onto a non-empty directory, onto a file; a file onto a directory.
            #expect(throws: MetaError.notEmpty(inode: full.id, name: "full")) {
                try store.rename(fromParent: .root, fromName: "a", toParent: .root, toName: "full")
            }
            #expect(throws: MetaError.notDirectory(inode: file.id, name: "file")) {
                try store.rename(fromParent: .root, fromName: "a", toParent: .root, toName: "file")
            }
            #expect(throws: MetaError.isDirectory(inode: empty.id, name: "empty")) {
                try store.rename(fromParent: .root, fromName: "file", toParent: .root, toName: "empty")
            }
            // Nothing moved.
            #expect(try store.readdir(.root).map(\.name) == ["a", "empty", "file", "full"])
            #expect(try store.lookup(parent: sub.id, name: "deep")?.id == deep.id)

            // Onto an empty directory: replaced.
            try store.rename(fromParent: .root, fromName: "a", toParent: .root, toName: "empty")
            #expect(throws: MetaError.noSuchInode(empty.id)) { try store.getattr(empty.id) }
            #expect(try store.lookup(parent: .root, name: "empty")?.id == a.id)
            #expect(try store.getattr(.root).nlink == 4)  // 2 + empty(a) + full

            // Across directories: link counts follow "..".
            try store.rename(fromParent: a.id, fromName: "sub", toParent: full.id, toName: "moved")
            #expect(try store.getattr(a.id).nlink == 2)
            #expect(try store.getattr(full.id).nlink == 3)
            #expect(try store.readdir(full.id).map(\.name) == ["moved", "x"])
            #expect(try store.lookup(parent: sub.id, name: "deep")?.id == deep.id)
            // A sibling subtree is not "its own subtree".
            try store.rename(fromParent: full.id, fromName: "moved", toParent: a.id, toName: "back")
            #expect(try store.readdir(a.id).map(\.name) == ["back"])
        }
    }

    @Test(arguments: Engine.all, [
        "", ".", "..", "a/b", "/", "nul\0byte", String(repeating: "x", count: 256),
        String(repeating: "é", count: 128),  // 256 bytes in UTF-8
    ])
    func invalidNamesAreRefused(_ engine: Engine, name: String) throws {
        try engine.withStore { store, _ throws in
            #expect(throws: MetaError.invalidName(name)) {
                try store.mkdir(parent: .root, name: name, mode: 0o755, uid: 0, gid: 0)
            }
            #expect(throws: MetaError.invalidName(name)) {
                try store.createFile(parent: .root, name: name, mode: 0o644, uid: 0, gid: 0)
            }
            #expect(throws: MetaError.invalidName(name)) { try store.lookup(parent: .root, name: name) }
            #expect(throws: MetaError.invalidName(name)) {
                try store.rename(fromParent: .root, fromName: "x", toParent: .root, toName: name)
            }
            #expect(EntryName.problem(name) != nil)
            #expect(MetaError.invalidName(name).description.hasPrefix("invalid name"))
            #expect(try store.readdir(.root) == [])
        }
    }

    @Test(arguments: Engine.all)
    func longestValidNameIsAccepted(_ engine: Engine) throws {
        try engine.withStore { store, _ throws in
            let name = String(repeating: "é", count: 127) + "x"  // 255 bytes
            #expect(name.utf8.count == 255)
            let f = try store.createFile(parent: .root, name: name, mode: 0o644, uid: 0, gid: 0)
            #expect(try store.lookup(parent: .root, name: name)?.id == f.id)
            #expect(MetaError.invalidName(name + "y").description.contains("256 bytes"))
            #expect(MetaError.invalidName(name + "y").errno == 36)  // ENAMETOOLONG
        }
    }

    @Test(arguments: Engine.all)
    func invalidSymlinkTargetsAreRefused(_ engine: Engine) throws {
        try engine.withStore { store, _ throws in
            #expect(throws: MetaError.invalidSymlinkTarget("")) {
                try store.symlink(parent: .root, name: "l", target: "", uid: 0, gid: 0)
            }
            #expect(throws: MetaError.invalidSymlinkTarget("a\0b")) {
                try store.symlink(parent: .root, name: "l", target: "a\0b", uid: 0, gid: 0)
            }
            #expect(try store.lookup(parent: .root, name: "l") == nil)
        }
    }

    /// Swift tasks (not threads) calling the synchronous store at once: the cooperative pool's few
    /// threads block in the store, which must not need them to finish.
    @Test(arguments: Engine.all)
    func concurrentCreatesAllLand(_ engine: Engine) async throws {
        try await engine.withStoreAsync { store in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<40 {
                    group.addTask {
                        _ = try store.createFile(parent: .root, name: "f\(i)", mode: 0o644, uid: 0, gid: 0)
                    }
                }
                try await group.waitForAll()
            }
            let names = try store.readdir(.root).map(\.name)
            #expect(names.count == 40)
            #expect(Set(names) == Set((0..<40).map { "f\($0)" }))
        }
    }
}

extension Inode {
    /// This inode with `other`'s times (a parent's mtime moves when entries are added to it).
    func withTimes(of other: Inode) -> Inode {
        var copy = self
        copy.mtime = other.mtime
        copy.ctime = other.ctime
        copy.nlink = other.nlink
        return copy
    }
}
