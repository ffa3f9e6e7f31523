import Foundation
import Testing
@testable import GranaryLoader

@Suite struct TarTests {
    typealias Support = TarTestSupport

    // MARK: - Fixtures

    static let longSplittableName = String(repeating: "d", count: 60) + "/" + String(repeating: "n", count: 85) + ".bin"
    static let longPaxName = "deep/" + String(repeating: "x", count: 120) + ".seg.png"

    /// An archive from TarWriter with the members it should scan back to and their contents.
    static func writtenArchive() throws -> (archive: [UInt8], expected: [TarMember], contents: [[UInt8]]) {
        let specs: [(name: String, size: Int, mtime: Int64)] = [
            ("s/0001.jpg", 1000, 1_700_000_000), ("s/0001.cls", 3, 0), ("empty.txt", 0, 0),
            ("s/0002.jpg", 511, 0), ("s/0002.cls", 512, 0), ("s/0003.jpg", 513, 0),
            (longSplittableName, 5000, 0), (longPaxName, 1025, 0), ("données/été.txt", 17, 0),
            ("neg-mtime.txt", 10, -1), ("far-mtime.txt", 10, 1 << 40),
        ]
        var writer = TarWriter()
        var expected: [TarMember] = []
        var contents: [[UInt8]] = []
        for (i, spec) in specs.enumerated() {
            let data = Support.content(size: spec.size, seed: i)
            try writer.append(name: spec.name, bytes: data, mtime: spec.mtime)
            let padded = (spec.size + 511) / 512 * 512
            let dataOffset = Int64(writer.bytes.count - padded)
            expected.append(TarMember(name: spec.name, kind: .regular, headerOffset: dataOffset - 512,
                                      dataOffset: dataOffset, size: Int64(spec.size)))
            contents.append(data)
        }
        return (writer.finish(), expected, contents)
    }

    /// Five members; the third ("c.txt", 700 bytes) is the one the damage tests aim at, the fourth
    /// has a pax header.
    static func damageArchive() throws -> (archive: [UInt8], members: [TarMember]) {
        var writer = TarWriter()
        try writer.append(name: "a.txt", bytes: Support.content(size: 100, seed: 1))
        try writer.append(name: "b.txt", bytes: Support.content(size: 600, seed: 2))
        try writer.append(name: "c.txt", bytes: Support.content(size: 700, seed: 3))
        try writer.append(name: longPaxName, bytes: Support.content(size: 50, seed: 4))
        try writer.append(name: "e.txt", bytes: Support.content(size: 5, seed: 5))
        let archive = writer.finish()
        let members = try Support.scan(archive).get()
        #expect(members.count == 5)
        return (archive, members)
    }

    /// A pax 'x' (or 'g') header carrying `records`, padded: to be spliced in front of a member.
    static func paxEntry(_ records: String, typeflag: Character = "x") throws -> [UInt8] {
        let data = Array(records.utf8)
        var writer = TarWriter()
        try writer.append(name: "PaxHeader", bytes: data)
        var entry = writer.bytes
        entry[156] = typeflag.asciiValue ?? 0
        Support.rechecksum(&entry, header: 0)
        return entry
    }

    // MARK: - Round trip

    @Test(arguments: [1, 7, 511, 512, 513, 4096, Int.max])
    func writerOutputScansBackExactly(chunkSize: Int) throws {
        let (archive, expected, contents) = try Self.writtenArchive()
        let members = try Support.scan(archive, chunkSize: chunkSize).get()
        #expect(members == expected)
        for (member, data) in zip(members, contents) {
            #expect(Support.data(of: member, in: archive) == data, "data of \(member.name)")
        }
    }

    @Test func chunkingNeverChangesTheResult() throws {
        let (archive, _, _) = try Self.writtenArchive()
        let whole = Support.scan(archive)
        var rng = SeededGenerator(seed: 42)
        for _ in 0..<20 {
            let chunk = Int.random(in: 1...3000, using: &rng)
            #expect(Support.scan(archive, chunkSize: chunk) == whole, "chunk size \(chunk)")
        }
    }

    @Test func writerUsesThePrefixFieldBeforePax() throws {
        var writer = TarWriter()
        try writer.append(name: Self.longSplittableName, bytes: [1, 2, 3])
        // One header block and one data block: no pax header was needed.
        #expect(writer.bytes.count == 1024)
        #expect(String(decoding: writer.bytes[345..<405], as: UTF8.self) == String(repeating: "d", count: 60))

        var paxWriter = TarWriter()
        try paxWriter.append(name: Self.longPaxName, bytes: [1, 2, 3])
        #expect(paxWriter.bytes[156] == UInt8(ascii: "x"))
        #expect(paxWriter.bytes.count == 2048)
        let members = try Support.scan(paxWriter.bytes).get()
        #expect(members.map(\.name) == [Self.longPaxName])
        #expect(members.first?.headerOffset == 1024)
    }

    @Test func sizesOf8GiBAndMoreGoThroughPax() throws {
        let size: Int64 = (8 << 30) + 1
        var writer = TarWriter()
        try writer.appendHeader(name: "huge.bin", size: size, mode: 0o644, mtime: 0)
        let headers = writer.bytes
        #expect(headers.count == 3 * 512)
        #expect(String(decoding: headers[512..<1024].prefix { $0 != 0 }, as: UTF8.self) == "19 size=8589934593\n")

        var scanner = TarScanner(shard: "huge.tar")
        var members = try Support.feed(&scanner, headers)
        #expect(members == [TarMember(name: "huge.bin", kind: .regular, headerOffset: 1024, dataOffset: 1536, size: size)])
        // Data is skipped without copying, so 8 GiB of it costs a few hundred calls.
        let zeros = [UInt8](repeating: 0, count: 16 << 20)
        var remaining = size + 511
        remaining -= remaining % 512
        while remaining > 0 {
            let n = Int(min(remaining, Int64(zeros.count)))
            members += try Support.feed(&scanner, Array(zeros[..<n]))
            remaining -= Int64(n)
        }
        var tail = TarWriter()
        try tail.append(name: "after.txt", bytes: [7, 7])
        members += try Support.feed(&scanner, tail.finish())
        try scanner.finish()
        let afterHeader: Int64 = 1536 + (8 << 30) + 512
        #expect(members.last == TarMember(name: "after.txt", kind: .regular, headerOffset: afterHeader,
                                          dataOffset: afterHeader + 512, size: 2))

        if let tar = Support.executable("tar") {
            // GNU tar lists a member as soon as it has read its headers, before it hits the missing data.
            let dir = try Support.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: dir) }
            try Support.write(headers, to: dir.appendingPathComponent("huge.tar"))
            let listing = try Support.run(tar, ["-tvf", dir.appendingPathComponent("huge.tar").path])
            #expect(listing.outputText.contains("8589934593"), "tar said: \(listing.outputText) \(listing.errorText)")
            #expect(listing.outputText.contains("huge.bin"))
        }
    }

    @Test func base256SizesAreRead() throws {
        var (archive, members) = try Self.damageArchive()
        let b = Int(members[1].headerOffset)
        Support.put([0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x58], into: &archive, at: b + 124)  // 600
        Support.rechecksum(&archive, header: b)
        #expect(try Support.scan(archive).get() == members)

        Support.put([UInt8](repeating: 0xFF, count: 12), into: &archive, at: b + 124)
        Support.rechecksum(&archive, header: b)
        guard case let .malformed(_, offset, reason) = Support.scanError(archive) else {
            Issue.record("a negative base-256 size must be malformed")
            return
        }
        #expect(offset == Int64(b))
        #expect(reason.contains("negative"))
    }

    @Test func signedChecksumsAreAccepted() throws {
        var writer = TarWriter()
        try writer.append(name: "é/ü.txt", bytes: [1])
        var archive = writer.finish()
        var signed = 0
        for i in 0..<512 {
            signed += (148..<156).contains(i) ? 32 : Int(Int8(bitPattern: archive[i]))
        }
        let digits = Array(String(signed, radix: 8).utf8)
        Support.put([UInt8](repeating: UInt8(ascii: "0"), count: 6 - digits.count) + digits + [0, 32], into: &archive, at: 148)
        #expect(try Support.scan(archive).get().map(\.name) == ["é/ü.txt"])
    }

    @Test func oldV7HeadersAndTrailingSlashDirectories() throws {
        var writer = TarWriter()
        try writer.append(name: "olddir/", bytes: [])
        try writer.append(name: "old.txt", bytes: [1, 2, 3])
        var archive = writer.finish()
        for header in [0, 512] {
            archive[header + 156] = 0
            Support.put([UInt8](repeating: 0, count: 8), into: &archive, at: header + 257)  // no magic, no version
            // v7 has no prefix field: whatever sits there must not become part of the name.
            Support.put(Array("junk".utf8), into: &archive, at: header + 345)
            Support.rechecksum(&archive, header: header)
        }
        let members = try Support.scan(archive).get()
        #expect(members == [
            TarMember(name: "olddir/", kind: .directory, headerOffset: 0, dataOffset: 512, size: 0),
            TarMember(name: "old.txt", kind: .regular, headerOffset: 512, dataOffset: 1024, size: 3),
        ])
    }

    @Test(arguments: [1, 100, Int.max])
    func gnuOldSparseMapsAreSkipped(chunkSize: Int) throws {
        var writer = TarWriter()
        try writer.append(name: "sp.bin", bytes: Support.content(size: 100, seed: 9))
        try writer.append(name: "after.txt", bytes: [4, 5, 6, 7, 8])
        var archive = writer.finish()
        archive[156] = UInt8(ascii: "S")
        Support.put(Array("ustar  \0".utf8), into: &archive, at: 257)
        archive[482] = 1
        Support.rechecksum(&archive, header: 0)
        var map1 = [UInt8](repeating: 0, count: 512)
        map1[504] = 1
        let map2 = [UInt8](repeating: 0, count: 512)
        archive.insert(contentsOf: map1 + map2, at: 512)

        let members = try Support.scan(archive, chunkSize: chunkSize).get()
        #expect(members == [
            TarMember(name: "sp.bin", kind: .other, headerOffset: 0, dataOffset: 1536, size: 100),
            TarMember(name: "after.txt", kind: .regular, headerOffset: 2048, dataOffset: 2560, size: 5),
        ])
        guard case let .truncated(_, offset, _) = Support.scanError(Array(archive[..<1000]), chunkSize: chunkSize) else {
            Issue.record("an archive cut inside a sparse map must be truncated")
            return
        }
        #expect(offset == 0)
    }

    // MARK: - Pax and GNU extensions

    @Test func paxPathAndSizeOverrideTheNextMemberOnly() throws {
        var writer = TarWriter()
        try writer.append(name: "x.txt", bytes: Support.content(size: 10, seed: 1))
        try writer.append(name: "y.txt", bytes: Support.content(size: 10, seed: 2))
        let pax = try Self.paxEntry("24 path=custom/name.jpg\n10 size=5\n")
        let global = try Self.paxEntry("16 path=ignored\n", typeflag: "g")
        let archive = global + pax + writer.finish()
        let base = Int64(global.count + pax.count)
        #expect(try Support.scan(archive).get() == [
            TarMember(name: "custom/name.jpg", kind: .regular, headerOffset: base, dataOffset: base + 512, size: 5),
            TarMember(name: "y.txt", kind: .regular, headerOffset: base + 1024, dataOffset: base + 1536, size: 10),
        ])
    }

    @Test(arguments: [
        ("5 a=b\n", "newline"),
        ("6 abc\n", "'='"),
        ("11 size=ab\n", "size"),
        ("99 path=a\n", "length"),
        ("path=a\n", "decimal length"),
    ])
    func badPaxRecordsAreMalformed(records: String, mention: String) throws {
        var writer = TarWriter()
        try writer.append(name: "a.txt", bytes: [1])
        let first = writer.bytes
        try writer.append(name: "b.txt", bytes: [2])
        let second = Array(writer.finish()[first.count...])
        let archive = first + (try Self.paxEntry(records)) + second
        guard case let .malformed(shard, offset, reason) = Support.scanError(archive, shard: "p.tar") else {
            Issue.record("'\(records)' must be malformed")
            return
        }
        #expect(shard == "p.tar")
        #expect(offset == Int64(first.count))
        #expect(reason.contains(mention), "reason: \(reason)")
    }

    @Test func extendedHeadersWithoutAMemberAreRejected() throws {
        var writer = TarWriter()
        try writer.append(name: "a.txt", bytes: [1])
        let pax = try Self.paxEntry("15 path=orphan\n")
        let prefix = writer.bytes + pax
        // Stream ends right after the pax header: the member it describes is missing.
        #expect(Support.scanError(prefix) == .truncated(shard: "test.tar", offset: 1024,
                                                          reason: "the archive ends after a long-name or pax extended header, before the member it describes"))
        // Stream ends inside the pax data.
        guard case .truncated(_, 1024, _) = Support.scanError(Array(prefix[..<1530])) else {
            Issue.record("cut inside pax data must be truncated at the pax header")
            return
        }
        // End marker right after it.
        guard case .malformed(_, 1024, _) = Support.scanError(prefix + [UInt8](repeating: 0, count: 1024)) else {
            Issue.record("a pax header followed by the end marker must be malformed")
            return
        }
    }

    // MARK: - End of archive

    @Test func endOfArchiveVariants() throws {
        let (archive, members) = try Self.damageArchive()
        let body = Array(archive[..<(archive.count - 1024)])
        // No end marker at all, as some writers do.
        #expect(try Support.scan(body).get() == members)
        // A single zero block.
        #expect(try Support.scan(body + [UInt8](repeating: 0, count: 512)).get() == members)
        // Garbage after the end marker is ignored, whatever the chunking.
        var rng = SeededGenerator(seed: 7)
        let trailing = archive + rng.bytes(3000)
        #expect(try Support.scan(trailing, chunkSize: 100).get() == members)
        // An empty stream is an empty archive.
        #expect(try Support.scan([]).get() == [])

        var scanner = TarScanner(shard: "t")
        _ = try Support.feed(&scanner, archive)
        #expect(scanner.reachedEndOfArchive)
        #expect(scanner.bytesConsumed == Int64(archive.count))
    }

    // MARK: - Malformed input

    @Test(arguments: [1, 300, Int.max])
    func randomBytesAreMalformedAtOffsetZero(chunkSize: Int) {
        var rng = SeededGenerator(seed: 0xBAD)
        let garbage = rng.bytes(64 * 1024)
        guard case let .malformed(shard, offset, reason) = Support.scanError(garbage, chunkSize: chunkSize, shard: "rand.tar") else {
            Issue.record("random bytes must be malformed")
            return
        }
        #expect(shard == "rand.tar")
        #expect(offset == 0)
        #expect(reason.contains("checksum"))
    }

    @Test func flippedHeaderByteNamesThatHeader() throws {
        var (archive, members) = try Self.damageArchive()
        let third = members[2]
        archive[Int(third.headerOffset) + 3] ^= 0x01
        let error = Support.scanError(archive, chunkSize: 333, shard: "/ds/shard-0003.tar")
        guard case let .malformed(shard, offset, reason) = error else {
            Issue.record("expected malformed, got \(String(describing: error))")
            return
        }
        #expect(shard == "/ds/shard-0003.tar")
        #expect(offset == third.headerOffset)
        #expect(reason.hasPrefix("checksum "))
        let text = error?.description ?? ""
        #expect(text.hasPrefix("shard /ds/shard-0003.tar: malformed tar header at offset \(third.headerOffset): checksum "))
    }

    @Test func errorDescriptionsNameShardAndOffset() {
        let e = TarError.malformed(shard: "/ds/shard-0003.tar", offset: 10240, reason: "checksum 1234 where the header sums to 5678")
        #expect(e.description == "shard /ds/shard-0003.tar: malformed tar header at offset 10240: checksum 1234 where the header sums to 5678")
        let t = TarError.truncated(shard: "s.tar", offset: 512, reason: "r")
        #expect(t.description == "shard s.tar: truncated tar archive at offset 512: r")
        let d = TarError.duplicateMember(shard: "s.tar", offset: 1536, key: "k", ext: "jpg")
        #expect(d.description.contains("s.tar") && d.description.contains("1536") && d.description.contains("'jpg'"))
    }

    @Test func truncationIsReportedAtTheRightHeader() throws {
        let (archive, members) = try Self.damageArchive()
        let third = members[2]
        let h = Int(third.headerOffset)
        for chunk in [1, 512, Int.max] {
            // Inside the header.
            #expect(Support.scanError(Array(archive[..<(h + 100)]), chunkSize: chunk)
                    == .truncated(shard: "test.tar", offset: third.headerOffset, reason: "the archive ends 100 bytes into a 512-byte header"))
            // Inside the data, and inside the padding after it.
            for cut in [Int(third.dataOffset) + 10, Int(third.dataOffset + third.size) + 1] {
                guard case let .truncated(_, offset, _) = Support.scanError(Array(archive[..<cut]), chunkSize: chunk) else {
                    Issue.record("cut at \(cut) must be truncated")
                    continue
                }
                #expect(offset == third.headerOffset)
            }
            // Exactly after the padded data: accepted.
            let end = Int(members[3].headerOffset) - 1024  // the pax header of the fourth starts there
            #expect(try Support.scan(Array(archive[..<end]), chunkSize: chunk).get() == Array(members[..<3]))
        }
    }

    @Test func nonOctalSizeIsMalformed() throws {
        var (archive, members) = try Self.damageArchive()
        let h = Int(members[2].headerOffset)
        Support.put(Array("0000012x4\0\0\0".utf8), into: &archive, at: h + 124)
        Support.rechecksum(&archive, header: h)
        guard case let .malformed(_, offset, reason) = Support.scanError(archive) else {
            Issue.record("a garbage size must be malformed")
            return
        }
        #expect(offset == members[2].headerOffset)
        #expect(reason.contains("size field") && reason.contains("0000012x4"))

        // Garbage in the checksum field itself.
        var other = try Self.damageArchive().archive
        Support.put(Array("zzzzzz\0 ".utf8), into: &other, at: 148)
        guard case let .malformed(_, 0, why) = Support.scanError(other) else {
            Issue.record("a garbage checksum must be malformed at 0")
            return
        }
        #expect(why.contains("checksum field"))
    }

    @Test func errorsAreSticky() throws {
        var (archive, _) = try Self.damageArchive()
        archive[10] ^= 0xFF
        var scanner = TarScanner(shard: "s")
        let first = Result { () throws(TarError) in try Support.feed(&scanner, archive) }
        guard case let .failure(error) = first else {
            Issue.record("must fail")
            return
        }
        #expect(throws: error) { try Support.feed(&scanner, []) }
        #expect(throws: error) { try scanner.finish() }
    }

    @Test func randomMutationsNeverCrash() throws {
        let (base, _, _) = try Self.writtenArchive()
        var rng = SeededGenerator(seed: 0x5EED)
        var parsed = 0
        var failed = 0
        for round in 0..<200 {
            var archive = base
            switch round % 4 {
            case 0:
                for _ in 0..<Int.random(in: 1...8, using: &rng) {
                    archive[Int.random(in: 0..<archive.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                }
            case 1:
                // Damage a header's fields but keep its checksum valid, to reach the field parsers.
                let block = Int.random(in: 0..<(archive.count / 512), using: &rng) * 512
                for _ in 0..<Int.random(in: 1...4, using: &rng) {
                    archive[block + Int.random(in: 0..<512, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                }
                Support.rechecksum(&archive, header: block)
            case 2:
                archive = Array(archive[..<Int.random(in: 0..<archive.count, using: &rng)])
            default:
                let start = Int.random(in: 0..<archive.count, using: &rng)
                let length = min(Int.random(in: 1...600, using: &rng), archive.count - start)
                Support.put(rng.bytes(length), into: &archive, at: start)
                Support.rechecksum(&archive, header: start / 512 * 512)
            }
            let chunk = Int.random(in: 1...2000, using: &rng)
            let result = Support.scan(archive, chunkSize: chunk)
            #expect(result == Support.scan(archive), "round \(round): chunking changed the outcome")
            switch result {
            case let .success(members):
                parsed += 1
                for m in members {
                    #expect(m.size >= 0 && m.dataOffset >= 0 && m.dataOffset + m.size <= Int64(archive.count), "round \(round)")
                }
                _ = try? Support.group(members)
            case .failure:
                failed += 1
            }
        }
        #expect(parsed > 0)
        #expect(failed > 0)
    }

    // MARK: - Interoperability

    @Test(arguments: ["gnu", "oldgnu", "pax", "ustar", "v7"])
    func readsGNUTarArchives(format: String) throws {
        guard let tar = Support.executable("tar") else { return }
        let root = try Support.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        var files: [(name: String, data: [UInt8])] = [
            ("s/0001.jpg", Support.content(size: 1000, seed: 1)), ("s/0001.cls", Support.content(size: 3, seed: 2)),
            ("s/0002.jpg", []), ("s/0002.cls", Support.content(size: 512, seed: 4)),
            ("s/0003.txt", Support.content(size: 70_000, seed: 5)),
        ]
        let unsplittable = "long/" + String(repeating: "g", count: 136) + ".data.bin"
        let splittable = "long/" + String(repeating: "u", count: 60) + "/" + String(repeating: "v", count: 75) + ".data.bin"
        var links: [(name: String, target: String)] = [("link", "s/0001.jpg")]
        switch format {
        case "gnu", "oldgnu":
            files.append((unsplittable, Support.content(size: 333, seed: 6)))
            links.append(("longlink", String(repeating: "t", count: 150)))  // forces a 'K' header
        case "pax":
            files.append((unsplittable, Support.content(size: 333, seed: 6)))
            files.append(("données/été.txt", Support.content(size: 20, seed: 7)))
            links.append(("longlink", String(repeating: "t", count: 150)))
        case "ustar":
            files.append((splittable, Support.content(size: 333, seed: 6)))
        default:
            break
        }
        #expect(unsplittable.utf8.count == 150 && splittable.utf8.count == 150)
        for file in files { try Support.write(file.data, to: root.appendingPathComponent(file.name)) }
        for link in links {
            try FileManager.default.createSymbolicLink(atPath: root.appendingPathComponent(link.name).path,
                                                       withDestinationPath: link.target)
        }
        try FileManager.default.createDirectory(at: root.appendingPathComponent("emptydir"), withIntermediateDirectories: true)
        let archivePath = root.appendingPathComponent("out.tar").path
        let result = try Support.run(tar, ["-c", "-f", archivePath, "--format=\(format)", "-C", root.path, "emptydir"]
                                          + files.map(\.name) + links.map(\.name))
        #expect(result.status == 0, "tar: \(result.errorText)")
        let archive = try Support.readBytes(URL(fileURLWithPath: archivePath))

        let expectedNames = ["emptydir/"] + files.map(\.name) + links.map(\.name)
        let expectedKinds: [TarMember.Kind] = [.directory] + files.map { _ in .regular } + links.map { _ in .other }
        let expectedSizes: [Int64] = [0] + files.map { Int64($0.data.count) } + links.map { _ in 0 }
        for chunk in [7, 4096, Int.max] {
            let members = try Support.scan(archive, chunkSize: chunk).get()
            #expect(members.map(\.name) == expectedNames, "format \(format), chunk \(chunk)")
            #expect(members.map(\.kind) == expectedKinds)
            #expect(members.map(\.size) == expectedSizes)
            for (member, file) in zip(members.dropFirst(), files) {
                #expect(Support.data(of: member, in: archive) == file.data, "\(format): \(member.name)")
                #expect(member.headerOffset == member.dataOffset - 512)
            }
        }
    }

    @Test(arguments: ["gnu", "pax"])
    func gnuTarSparseFilesDoNotDerailTheScan(format: String) throws {
        guard let tar = Support.executable("tar") else { return }
        let root = try Support.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let sparseURL = root.appendingPathComponent("sparse.bin")
        _ = FileManager.default.createFile(atPath: sparseURL.path, contents: nil)
        let handle = try FileHandle(forWritingTo: sparseURL)
        for i in 0..<10 {
            // Ten separate data regions: more than the four an old GNU header holds, so the map
            // continues in extension blocks.
            try handle.seek(toOffset: UInt64(i) << 20)
            try handle.write(contentsOf: Data(repeating: UInt8(i + 1), count: 10))
        }
        try handle.close()
        let after = Support.content(size: 1234, seed: 3)
        try Support.write(after, to: root.appendingPathComponent("after.txt"))
        let archivePath = root.appendingPathComponent("out.tar").path
        let result = try Support.run(tar, ["-c", "-S", "-f", archivePath, "--format=\(format)", "-C", root.path, "sparse.bin", "after.txt"])
        #expect(result.status == 0, "tar: \(result.errorText)")
        let archive = try Support.readBytes(URL(fileURLWithPath: archivePath))

        let members = try Support.scan(archive, chunkSize: 500).get()
        #expect(members.map(\.name) == ["sparse.bin", "after.txt"])
        if archive.count < 9 << 20 {
            // tar stored it sparse, so its data is a map and fragments, not the file.
            #expect(members.first?.kind == .other)
        }
        if let last = members.last {
            #expect(Support.data(of: last, in: archive) == after)
        }
    }

    @Test(arguments: ["ustar", "gnu", "pax"])
    func readsPythonTarfileArchives(format: String) throws {
        guard let python = Support.executable("python3") else { return }
        let root = try Support.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        var entries: [[String: Any]] = [
            ["name": "d", "type": "dir"],
            ["name": "d/000001.jpg", "type": "file", "size": 2000, "seed": 1],
            ["name": "d/000001.json", "type": "file", "size": 15, "seed": 2],
            ["name": "d/000002.jpg", "type": "file", "size": 0, "seed": 3],
            ["name": "lnk", "type": "symlink", "target": "d/000001.jpg"],
        ]
        switch format {
        case "ustar":
            entries.append(["name": "p/" + String(repeating: "a", count: 60) + "/" + String(repeating: "b", count: 80) + ".x.y",
                            "type": "file", "size": 700, "seed": 4])
        default:
            entries.append(["name": "p/" + String(repeating: "c", count: 150) + ".x.y", "type": "file", "size": 700, "seed": 4])
            entries.append(["name": "longlink", "type": "symlink", "target": String(repeating: "t", count: 200)])
            if format == "pax" {
                entries.append(["name": "ünïcode/ß.txt", "type": "file", "size": 9, "seed": 5])
            }
        }
        let spec = String(decoding: try JSONSerialization.data(withJSONObject: entries), as: UTF8.self)
        let script = """
        import io, json, sys, tarfile
        path, fmt, spec = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
        formats = {"ustar": tarfile.USTAR_FORMAT, "gnu": tarfile.GNU_FORMAT, "pax": tarfile.PAX_FORMAT}
        with tarfile.open(path, "w", format=formats[fmt], encoding="utf-8") as tf:
            for e in spec:
                info = tarfile.TarInfo(e["name"])
                info.mtime = 1700000000
                if e["type"] == "dir":
                    info.type = tarfile.DIRTYPE
                    tf.addfile(info)
                elif e["type"] == "symlink":
                    info.type = tarfile.SYMTYPE
                    info.linkname = e["target"]
                    tf.addfile(info)
                else:
                    data = bytes((i * 7 + e["seed"]) % 251 for i in range(e["size"]))
                    info.size = len(data)
                    tf.addfile(info, io.BytesIO(data))
        """
        let archiveURL = root.appendingPathComponent("py.tar")
        let result = try Support.run(python, ["-c", script, archiveURL.path, format, spec])
        #expect(result.status == 0, "python: \(result.errorText)")
        let archive = try Support.readBytes(archiveURL)

        for chunk in [13, Int.max] {
            let members = try Support.scan(archive, chunkSize: chunk).get()
            #expect(members.count == entries.count)
            for (member, entry) in zip(members, entries) {
                let name = entry["name"] as? String ?? ""
                switch entry["type"] as? String {
                case "dir":
                    #expect(member.name == name + "/" && member.kind == .directory)
                case "symlink":
                    #expect(member.name == name && member.kind == .other && member.size == 0)
                default:
                    let size = entry["size"] as? Int ?? -1
                    let seed = entry["seed"] as? Int ?? -1
                    #expect(member.name == name && member.kind == .regular && member.size == Int64(size))
                    #expect(Support.data(of: member, in: archive) == Support.content(size: size, seed: seed), "\(format): \(name)")
                }
            }
        }
    }

    @Test func writerLongNamesReadBackWithGNUTarAndPython() throws {
        let names = [
            "short.txt",
            "p/" + String(repeating: "q", count: 150) + ".jpg",
            String(repeating: "dir/", count: 75) + "file.cls",
            "ünïcode/" + String(repeating: "é", count: 70) + ".txt",
        ]
        var writer = TarWriter()
        var contents: [[UInt8]] = []
        for (i, name) in names.enumerated() {
            let data = Support.content(size: 100 * i + 1, seed: i)
            contents.append(data)
            try writer.append(name: name, bytes: data, mtime: 1_700_000_000)
        }
        let archive = writer.finish()
        let members = try Support.scan(archive, chunkSize: 100).get()
        #expect(members.map(\.name) == names)

        guard let tar = Support.executable("tar") else { return }
        let dir = try Support.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("w.tar").path
        try Support.write(archive, to: URL(fileURLWithPath: path))

        let listing = try Support.run(tar, ["-tf", path])
        #expect(listing.status == 0, "tar: \(listing.errorText)")
        #expect(listing.outputText.split(separator: "\n").map(String.init) == names)
        let verbose = try Support.run(tar, ["-tvf", path])
        let lines = verbose.outputText.split(separator: "\n")
        #expect(lines.count == names.count)
        for (line, (name, data)) in zip(lines, zip(names, contents)) {
            #expect(line.hasSuffix(" " + name) && line.contains(" \(data.count) "), "tar -tvf line: \(line)")
        }
        for (name, data) in zip(names, contents) {
            let extracted = try Support.run(tar, ["-xOf", path, name])
            #expect(extracted.status == 0 && [UInt8](extracted.output) == data, "tar -xOf \(name): \(extracted.errorText)")
        }

        guard let python = Support.executable("python3") else { return }
        let read = try Support.run(python, ["-c", """
            import json, sys, tarfile
            with tarfile.open(sys.argv[1]) as tf:
                print(json.dumps([[m.name, m.size] for m in tf.getmembers()]))
            """, path])
        #expect(read.status == 0, "python: \(read.errorText)")
        let parsed = try JSONSerialization.jsonObject(with: read.output) as? [[Any]] ?? []
        #expect(parsed.map { $0.first as? String ?? "" } == names)
        #expect(parsed.map { $0.last as? Int ?? -1 } == contents.map(\.count))
    }

    // MARK: - Writer errors

    @Test func writerRejectsBadInputWithoutChangingTheArchive() throws {
        var writer = TarWriter()
        try writer.append(name: "ok.txt", bytes: [1])
        let before = writer.bytes
        #expect(throws: TarError.invalidName(name: "", reason: "it is empty")) { try writer.append(name: "", bytes: [1]) }
        #expect(throws: TarError.invalidName(name: "a\0b", reason: "it contains a NUL byte")) { try writer.append(name: "a\0b", bytes: [1]) }
        let huge = String(repeating: "n", count: TarWriter.maxNameLength + 1)
        #expect(throws: TarError.nameTooLong(name: huge)) { try writer.append(name: huge, bytes: [1]) }
        #expect(throws: TarError.self) { try writer.append(name: "m.txt", bytes: [1], mode: 0o17777777) }
        #expect(writer.bytes == before)

        let finished = writer.finish()
        #expect(finished.count == before.count + 1024)
        #expect(writer.finish() == finished)
        #expect(throws: TarError.writerFinished(name: "late.txt")) { try writer.append(name: "late.txt", bytes: [1]) }
        #expect(writer.finish() == finished)
    }

    // MARK: - WebDataset grouping

    @Test func keysAndExtensionsFollowTheConvention() {
        let cases: [(String, (String, String)?)] = [
            ("a/b/img001.seg.png", ("a/b/img001", "seg.png")),
            ("img.jpg", ("img", "jpg")),
            ("dir.v2/x.y/sample.cls", ("dir.v2/x.y/sample", "cls")),
            ("./s/0001.jpg", ("./s/0001", "jpg")),
            ("ü/é.tar.gz", ("ü/é", "tar.gz")),
            ("img.", ("img", "")),
            ("noext", nil),
            (".hidden", nil),
            ("a/.hidden.jpg", nil),
            ("a/b/", nil),
        ]
        for (name, expected) in cases {
            let got = WebDatasetGrouper.keyAndExtension(of: name)
            #expect(got?.key == expected?.0 && got?.ext == expected?.1, "\(name)")
        }
    }

    @Test func consecutiveMembersWithOneKeyFormASample() throws {
        func m(_ name: String, _ offset: Int64, _ size: Int64 = 10, kind: TarMember.Kind = .regular) -> TarMember {
            TarMember(name: name, kind: kind, headerOffset: offset - 512, dataOffset: offset, size: size)
        }
        let members = [
            m("s/", 512, 0, kind: .directory),
            m("s/a.jpg", 1024), m("s/a.seg.png", 2048, 700), m("README", 3584),
            m("s/a.cls", 4608, 3), m("lnk", 5632, 0, kind: .other),
            m("s/b.jpg", 6144), m(".DS_Store", 7168), m("s/.b.txt", 8192),
            m("s/a.jpg", 9216),
        ]
        let (samples, skipped) = try Support.group(members)
        #expect(skipped == 3)
        #expect(samples.map(\.key) == ["s/a", "s/b", "s/a"])
        #expect(samples.first?.members == [
            .init(ext: "jpg", dataOffset: 1024, size: 10), .init(ext: "seg.png", dataOffset: 2048, size: 700),
            .init(ext: "cls", dataOffset: 4608, size: 3),
        ])
        #expect(samples.first?.span == 1024..<4611)
        #expect(samples.dropFirst().first?.span == 6144..<6154)
        #expect(TarSample(key: "k", members: []).span == 0..<0)
    }

    @Test func duplicateExtensionsAreRejected() throws {
        var grouper = WebDatasetGrouper(shard: "dup.tar")
        let first = TarMember(name: "k/x.jpg", kind: .regular, headerOffset: 0, dataOffset: 512, size: 1)
        let second = TarMember(name: "k/x.cls", kind: .regular, headerOffset: 1024, dataOffset: 1536, size: 1)
        let again = TarMember(name: "k/x.jpg", kind: .regular, headerOffset: 2048, dataOffset: 2560, size: 1)
        #expect(try grouper.add(first) == nil)
        #expect(try grouper.add(second) == nil)
        #expect(throws: TarError.duplicateMember(shard: "dup.tar", offset: 2048, key: "k/x", ext: "jpg")) {
            try grouper.add(again)
        }
        #expect(grouper.finish()?.members.map(\.ext) == ["jpg", "cls"])
        #expect(grouper.finish() == nil)
    }

    @Test func samplesFromARealShardSpanTheirPartsContiguously() throws {
        var writer = TarWriter()
        let parts: [(String, Int)] = [("x/0001.jpg", 1000), ("x/0001.seg.png", 10), ("x/0001.cls", 1),
                                      ("x/0002.jpg", 0), ("x/0002.cls", 700), ("notes", 5), ("x/0003.jpg", 513)]
        var contents: [String: [UInt8]] = [:]
        for (i, (name, size)) in parts.enumerated() {
            contents[name] = Support.content(size: size, seed: i)
            try writer.append(name: name, bytes: contents[name] ?? [])
        }
        let archive = writer.finish()
        let (samples, skipped) = try Support.group(try Support.scan(archive, chunkSize: 511).get())
        #expect(skipped == 1)
        #expect(samples.map(\.key) == ["x/0001", "x/0002", "x/0003"])
        #expect(samples.map { $0.members.map(\.ext) } == [["jpg", "seg.png", "cls"], ["jpg", "cls"], ["jpg"]])
        for sample in samples {
            guard let first = sample.members.first, let last = sample.members.last else { continue }
            #expect(sample.span == first.dataOffset..<(last.dataOffset + last.size))
            // One read of the span yields every part at its offset within it.
            let window = Array(archive[Int(sample.span.lowerBound)..<Int(sample.span.upperBound)])
            for part in sample.members {
                let start = Int(part.dataOffset - sample.span.lowerBound)
                #expect(Array(window[start..<(start + Int(part.size))]) == contents[sample.key + "." + part.ext])
            }
        }
    }
}
