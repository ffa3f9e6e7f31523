import Foundation
import GranaryCore
import GranaryMeta
import Testing

@Suite("File data: stripes, extents, layouts")
struct FileDataTests {
    static let layout = StripeLayout(k: 2, m: 1, fragmentSize: 4096, backend: "isa_l_rs_cauchy")

    static func stripe(_ id: UInt64, dataLength: Int = 8192) -> Stripe {
        let drives = ["n1/d0", "n2/d0", "n3/d0"].compactMap(DriveID.init(parsing:))
        return Stripe(id: id, layout: layout, dataLength: dataLength, fragmentLength: 4096 + 80, headerLength: 80,
                      fragments: drives.enumerated().map { FragmentPlacement(index: $0.offset, drive: $0.element) })
    }

    @Test(arguments: Engine.all)
    func commitMakesFilesVisibleWithTheirExtents(_ engine: Engine) throws {
        try engine.withStore { store, _ throws in
            let first = try store.allocateStripes(count: 2)
            #expect(try store.allocateStripes(count: 1) == first + 2)
            let dir = try store.mkdirAll(path: "/data/train", mode: 0o755, uid: 0, gid: 0)
            let a = NewFile(parent: dir.id, name: "a.bin", size: 100, extents: [Extent(fileOffset: 0, stripe: first, stripeOffset: 0, length: 100)])
            let b = NewFile(parent: dir.id, name: "b.bin", size: 9000, extents: [
                Extent(fileOffset: 0, stripe: first, stripeOffset: 100, length: 8092),
                Extent(fileOffset: 8092, stripe: first + 1, stripeOffset: 0, length: 908),
            ])
            let inodes = try store.commitFiles(stripes: [Self.stripe(first), Self.stripe(first + 1, dataLength: 908)], files: [a, b])
            #expect(inodes.map(\.size) == [100, 9000])
            #expect(try store.resolve(path: "/data/train/b.bin").id == inodes[1].id)
            #expect(try store.resolve(path: "//data//train/").id == dir.id)
            let map = try store.fileMap(inodes[1].id)
            #expect(map.extents == b.extents)
            #expect(map.stripes.count == 2)
            #expect(map.stripes[first] == Self.stripe(first))
            #expect(try store.unreferencedStripes(limit: 10).isEmpty)
        }
    }

    /// The batched reads a data loader makes per batch: one snapshot, each stripe once, a
    /// missing inode answered with nil in its place, a directory refused.
    @Test(arguments: Engine.all)
    func fileMapsAndGetattrsAnswerManyInodesInOrder(_ engine: Engine) throws {
        try engine.withStore { store, _ throws in
            let first = try store.allocateStripes(count: 2)
            let dir = try store.mkdirAll(path: "/d", mode: 0o755, uid: 0, gid: 0)
            let files = [
                NewFile(parent: dir.id, name: "a", size: 100, extents: [Extent(fileOffset: 0, stripe: first, stripeOffset: 0, length: 100)]),
                NewFile(parent: dir.id, name: "b", size: 50, extents: [Extent(fileOffset: 0, stripe: first, stripeOffset: 100, length: 50)]),
                NewFile(parent: dir.id, name: "c", size: 908, extents: [Extent(fileOffset: 0, stripe: first + 1, stripeOffset: 0, length: 908)]),
            ]
            let inodes = try store.commitFiles(stripes: [Self.stripe(first), Self.stripe(first + 1, dataLength: 908)], files: files)
            let gone = InodeID(999_999)
            let batch = try store.fileMaps([inodes[2].id, gone, inodes[0].id, inodes[1].id])
            #expect(batch.files.count == 4 && batch.files[1] == nil)
            #expect(batch.stripes.count == 2)
            for (i, inode) in [(0, inodes[2]), (2, inodes[0]), (3, inodes[1])] {
                #expect(batch.map(i) == (try store.fileMap(inode.id)))
            }
            #expect(batch.map(1) == nil && batch.map(7) == nil)
            #expect(throws: MetaError.isDirectory(inode: dir.id, name: nil)) { try store.fileMaps([inodes[0].id, dir.id]) }
            let attrs = try store.getattrs([dir.id, gone, inodes[1].id])
            #expect(attrs.map { $0?.id } == [dir.id, nil, inodes[1].id])
            // Through the wire form a manager answers with.
            #expect(MetaRequest.fileMaps([inodes[0].id]).run(on: store) == .fileMaps(try store.fileMaps([inodes[0].id])))
            #expect(MetaRequest.getattrs([gone]).run(on: store) == .maybeInodes([nil]))
        }
    }

    @Test(arguments: Engine.all)
    func badCommitsChangeNothingAndNameWhatIsWrong(_ engine: Engine) throws {
        try engine.withStore { store, _ throws in
            let s = try store.allocateStripes(count: 1)
            // A stripe id nobody allocated.
            #expect(throws: MetaError.invalidStripe(id: s + 5, reason: "its id was never allocated")) {
                try store.commitFiles(stripes: [Self.stripe(s + 5)], files: [])
            }
            // Extent past the stripe's data: nothing of the commit remains, not even the stripe.
            let tooLong = NewFile(parent: .root, name: "x", size: 9000, extents: [Extent(fileOffset: 0, stripe: s, stripeOffset: 0, length: 9000)])
            #expect(throws: MetaError.self) { try store.commitFiles(stripes: [Self.stripe(s)], files: [tooLong]) }
            #expect(try store.stripes([s]).isEmpty)
            #expect(try store.lookup(parent: .root, name: "x") == nil)
            // Overlapping extents, extents past the size.
            let overlap = NewFile(parent: .root, name: "y", size: 200, extents: [
                Extent(fileOffset: 0, stripe: s, stripeOffset: 0, length: 100), Extent(fileOffset: 50, stripe: s, stripeOffset: 0, length: 100)])
            #expect(throws: MetaError.self) { try store.commitFiles(stripes: [Self.stripe(s)], files: [overlap]) }
            let pastSize = NewFile(parent: .root, name: "z", size: 10, extents: [Extent(fileOffset: 0, stripe: s, stripeOffset: 0, length: 100)])
            #expect(throws: MetaError.self) { try store.commitFiles(stripes: [Self.stripe(s)], files: [pastSize]) }
            // A stripe that contradicts itself.
            var twoOnOneDrive = Self.stripe(s)
            twoOnOneDrive.fragments[1].drive = twoOnOneDrive.fragments[0].drive
            #expect(throws: MetaError.invalidStripe(id: s, reason: "two fragments on one drive")) {
                try store.commitFiles(stripes: [twoOnOneDrive], files: [])
            }
            #expect(try store.readdir(.root).isEmpty)
        }
    }

    @Test(arguments: Engine.all)
    func replaceIsCopyOnWriteAndOldStripesBecomeGarbage(_ engine: Engine) throws {
        try engine.withStore { store, _ throws in
            let s = try store.allocateStripes(count: 2)
            let v1 = NewFile(parent: .root, name: "ckpt", size: 10, extents: [Extent(fileOffset: 0, stripe: s, stripeOffset: 0, length: 10)])
            try store.commitFiles(stripes: [Self.stripe(s)], files: [v1])
            var v2 = NewFile(parent: .root, name: "ckpt", size: 20, extents: [Extent(fileOffset: 0, stripe: s + 1, stripeOffset: 0, length: 20)])
            #expect(throws: MetaError.exists(parent: .root, name: "ckpt")) { try store.commitFiles(stripes: [Self.stripe(s + 1)], files: [v2]) }
            v2.replace = true
            try store.commitFiles(stripes: [Self.stripe(s + 1)], files: [v2])
            #expect(try store.resolve(path: "/ckpt").size == 20)
            #expect(try store.unreferencedStripes(limit: 10).map(\.id) == [s])
            try store.forgetStripes([s, s + 1])  // s + 1 is still in use and must stay
            #expect(try store.stripes([s, s + 1]).map(\.id) == [s + 1])
            try store.unlink(parent: .root, name: "ckpt")
            #expect(try store.unreferencedStripes(limit: 10).map(\.id) == [s + 1])
        }
    }

    @Test(arguments: Engine.all)
    func orphanWatermarkCoversOnlyOldAllocations(_ engine: Engine) throws {
        try engine.withStore { store, _ throws in
            #expect(try store.orphanWatermark(allocatedBefore: Date().timeIntervalSince1970 + 10) == 1)
            let s = try store.allocateStripes(count: 3)
            #expect(try store.orphanWatermark(allocatedBefore: Date().timeIntervalSince1970 + 10) == s + 3)
            #expect(try store.orphanWatermark(allocatedBefore: Date().timeIntervalSince1970 - 3600) == 1)
        }
    }

    @Test(arguments: Engine.all)
    func layoutsAreInheritedByWhatIsBelow(_ engine: Engine) throws {
        try engine.withStore { store, _ throws in
            let a = try store.mkdirAll(path: "/a/b/c", mode: 0o755, uid: 0, gid: 0)
            let b = try store.resolve(path: "/a/b")
            #expect(try store.effectiveLayout(of: a.id) == nil)
            let wide = StripeLayout(k: 8, m: 3, fragmentSize: 1 << 20, backend: "isa_l_rs_cauchy")
            try store.setLayout(b.id, wide)
            #expect(try store.effectiveLayout(of: a.id) == wide)
            #expect(try store.layout(of: a.id) == nil)
            #expect(try store.effectiveLayout(of: .root) == nil)
            #expect(throws: MetaError.self) { try store.setLayout(b.id, StripeLayout(k: 30, m: 3, fragmentSize: 4096, backend: "x")) }
            try store.setLayout(b.id, nil)
            #expect(try store.effectiveLayout(of: a.id) == nil)
        }
    }

    @Test(arguments: Engine.all)
    func pathsAreCheckedAndMissingOnesNamed(_ engine: Engine) throws {
        try engine.withStore { store, _ throws in
            #expect(throws: MetaError.noSuchPath("/nope/x")) { try store.resolve(path: "/nope/x") }
            #expect(throws: MetaError.self) { try store.resolve(path: "relative") }
            _ = try store.createFile(parent: .root, name: "f", mode: 0o644, uid: 0, gid: 0)
            #expect(throws: MetaError.self) { try store.mkdirAll(path: "/f/g", mode: 0o755, uid: 0, gid: 0) }
            #expect(throws: MetaError.noSuchPath("/f/g")) { try store.resolve(path: "/f/g") }
        }
    }
}
