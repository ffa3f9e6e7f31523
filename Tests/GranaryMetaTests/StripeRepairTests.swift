import Foundation
import GranaryCore
import GranaryMeta
import Testing

@Suite("Stripe repair records: generations, replace, shrunk stripes, service state")
struct StripeRepairTests {
    static func drive(_ s: String) -> DriveID { DriveID(parsing: s)! }

    /// Commits one file over one stripe and returns the stripe.
    static func committed(_ store: any MetaStore) throws -> Stripe {
        let id = try store.allocateStripes(count: 1)
        let s = FileDataTests.stripe(id)
        try store.commitFiles(stripes: [s], files: [NewFile(parent: .root, name: "f", size: 8192,
                                                             extents: [Extent(fileOffset: 0, stripe: id, stripeOffset: 0, length: 8192)])])
        return s
    }

    @Test func chunkKeysCarryTheGeneration() {
        let first = FragmentPlacement(index: 3, drive: Self.drive("n1/d0"))
        #expect(first.key(stripe: 9) == ChunkKey(stripe: 9, fragment: 3), "a first write keeps the bare index")
        let later = FragmentPlacement(index: 3, drive: Self.drive("n1/d0"), generation: 5)
        #expect(later.key(stripe: 9) == ChunkKey(stripe: 9, fragment: 3 | 4 << 8))
        #expect(FragmentPlacement.parse(later.key(stripe: 9)) == (3, 5))
        #expect(FragmentPlacement.parse(ChunkKey(stripe: 1, fragment: 31)) == (31, 1))
    }

    @Test(arguments: Engine.all)
    func replaceIsACompareAndSwapOnTheVersion(_ engine: Engine) throws {
        try engine.withStore { store, _ throws in
            let s = try Self.committed(store)
            #expect(try store.stripes(onDrives: [Self.drive("n2/d0")], after: 0, limit: 10) == [s])
            #expect(try store.countStripes(onDrives: [Self.drive("n2/d0"), Self.drive("n3/d0")]) == 1)
            #expect(try store.stripes(onDrives: [Self.drive("n9/d0")], after: 0, limit: 10).isEmpty)

            // Fragment 1 rebuilt on another drive.
            var next = s
            next.version = 2
            next.fragments[1] = FragmentPlacement(index: 1, drive: Self.drive("n4/d0"), generation: 2)
            try store.replaceStripe(next, expectedVersion: 1)
            #expect(try store.stripes([s.id]) == [next])
            #expect(try store.stripes(onDrives: [Self.drive("n2/d0")], after: 0, limit: 10).isEmpty)
            #expect(try store.fileMap(try store.resolve(path: "/f").id).stripes[s.id] == next)

            // A second writer that read version 1 loses, and changes nothing.
            var rival = s
            rival.version = 2
            rival.fragments[0] = FragmentPlacement(index: 0, drive: Self.drive("n5/d0"), generation: 2)
            #expect(throws: MetaError.staleStripe(id: s.id, expected: 1, found: 2)) { try store.replaceStripe(rival, expectedVersion: 1) }
            #expect(try store.stripes([s.id]) == [next])

            // Records that would lose data or go backwards are refused.
            var shorter = next
            shorter.version = 3
            shorter.dataLength = 100
            #expect(throws: MetaError.self) { try store.replaceStripe(shorter, expectedVersion: 2) }
            #expect(throws: MetaError.self) { try store.replaceStripe(next, expectedVersion: 2) }
            var missing = next
            missing.id = 999
            missing.version = 9
            #expect(throws: MetaError.noSuchStripe(999)) { try store.replaceStripe(missing, expectedVersion: 8) }
        }
    }

    @Test(arguments: Engine.all)
    func shrunkStripesRememberTheirWideLayoutAndAreCounted(_ engine: Engine) throws {
        try engine.withStore { store, _ throws in
            let s = try Self.committed(store)
            #expect(try store.countShrunkStripes() == 0)
            let narrow = StripeLayout(k: 1, m: 1, fragmentSize: 8192, backend: s.layout.backend)
            let shrunk = Stripe(id: s.id, layout: narrow, version: 2, dataLength: s.dataLength, fragmentLength: 8192 + 80, headerLength: 80,
                                fragments: [FragmentPlacement(index: 0, drive: Self.drive("n1/d0"), generation: 2),
                                            FragmentPlacement(index: 1, drive: Self.drive("n2/d0"), generation: 2)],
                                wideLayout: s.layout)
            try store.replaceStripe(shrunk, expectedVersion: 1)
            #expect(try store.shrunkStripes(after: 0, limit: 5) == [shrunk])
            #expect(try store.countShrunkStripes() == 1)
            #expect(try store.stripes([s.id]).first?.targetLayout == s.layout)
            #expect(try store.stripeCensus() == [StripeCensus(k: 1, m: 1, stripes: 1, dataBytes: 8192, shrunk: 1)])
            #expect(try store.allStripes(after: 0, limit: 5).map(\.id) == [s.id])
            #expect(try store.allStripes(after: s.id, limit: 5).isEmpty)

            // A wide layout that is not wider is refused.
            var bogus = shrunk
            bogus.version = 3
            bogus.wideLayout = narrow
            #expect(throws: MetaError.self) { try store.replaceStripe(bogus, expectedVersion: 2) }
        }
    }

    @Test(arguments: Engine.all)
    func serviceStateIsSavedAndReplaced(_ engine: Engine) throws {
        try engine.withStore { store, path throws in
            #expect(try store.serviceState("repair") == nil)
            try store.saveServiceState("repair", #"{"a":1}"#)
            try store.saveServiceState("repair", #"{"a":2}"#)
            #expect(try store.serviceState("repair") == #"{"a":2}"#)
            #expect(try path.open().serviceState("repair") == #"{"a":2}"#)
            #expect(try store.schemaVersion() == engine.supportedSchemaVersion)
        }
    }
}

@Suite("Copy-on-write overwrite and truncate")
struct RewriteTests {
    @Test(arguments: Engine.all)
    func rewriteSwapsOnlyTheTouchedExtentsAndRefusesAStaleView(_ engine: Engine) throws {
        try engine.withStore { store, _ throws in
            let first = try store.allocateStripes(count: 3)
            let a = Extent(fileOffset: 0, stripe: first, stripeOffset: 0, length: 8192)
            let b = Extent(fileOffset: 8192, stripe: first + 1, stripeOffset: 0, length: 8192)
            let file = try #require(try store.commitFiles(stripes: [FileDataTests.stripe(first), FileDataTests.stripe(first + 1)], files: [
                NewFile(parent: .root, name: "f", size: 16384, extents: [a, b])]).first)
            // Rewrite the second extent into a new stripe (new extents that overlap are refused).
            let c = Extent(fileOffset: 8192, stripe: first + 2, stripeOffset: 0, length: 8192)
            let overlapping = Extent(fileOffset: 16000, stripe: first + 2, stripeOffset: 0, length: 484)
            #expect(throws: MetaError.self, "overlapping new extents") {
                try store.rewriteFile(file.id, replacing: [b], with: [c, overlapping], stripes: [FileDataTests.stripe(first + 2)], size: 16484)
            }
            #expect(try store.stripes([first + 2]).isEmpty, "a refused rewrite records nothing")
            let inode = try store.rewriteFile(file.id, replacing: [b], with: [c], stripes: [FileDataTests.stripe(first + 2)], size: 16384)
            #expect(inode.size == 16384)
            #expect(try store.fileMap(file.id).extents == [a, c])
            #expect(try store.unreferencedStripes(limit: 5).map(\.id) == [first + 1])
            // A writer that still believes in extent b loses and changes nothing.
            #expect(throws: MetaError.fileChanged(file.id)) {
                try store.rewriteFile(file.id, replacing: [b], with: [b], stripes: [], size: 16384)
            }
            // A writer that missed extent a (it thought the span was a hole) loses too.
            #expect(throws: MetaError.fileChanged(file.id)) {
                try store.rewriteFile(file.id, replacing: [], with: [Extent(fileOffset: 100, stripe: first, stripeOffset: 0, length: 10)], stripes: [], size: 16384)
            }
            #expect(try store.fileMap(file.id).extents == [a, c])
        }
    }

    @Test(arguments: Engine.all)
    func truncateDropsTheDataPastTheNewSize(_ engine: Engine) throws {
        try engine.withStore { store, _ throws in
            let first = try store.allocateStripes(count: 2)
            let a = Extent(fileOffset: 0, stripe: first, stripeOffset: 0, length: 8192)
            let b = Extent(fileOffset: 8192, stripe: first + 1, stripeOffset: 0, length: 8192)
            let file = try #require(try store.commitFiles(stripes: [FileDataTests.stripe(first), FileDataTests.stripe(first + 1)], files: [
                NewFile(parent: .root, name: "f", size: 16384, extents: [a, b])]).first)
            try store.setSize(file.id, size: 5000)
            #expect(try store.fileMap(file.id).extents == [Extent(fileOffset: 0, stripe: first, stripeOffset: 0, length: 5000)])
            // Growing again leaves a hole: no extent brings the old bytes back.
            try store.setSize(file.id, size: 20000)
            #expect(try store.fileMap(file.id).extents.count == 1)
            #expect(try store.unreferencedStripes(limit: 5).map(\.id) == [first + 1])
        }
    }
}
