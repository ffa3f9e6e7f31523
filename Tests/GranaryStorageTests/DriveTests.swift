#if canImport(Glibc)
import Glibc
#endif
import GranaryCore
@testable import GranaryStorage
import Testing

@Suite struct DriveTests {
    @Test(arguments: [0, 1, 65_535, 65_536, 65_537, (1 << 20) + 7])
    func putGetRoundTrip(size: Int) throws {
        let dir = try StorageTestDirectory()
        defer { dir.remove() }
        let drive = try dir.openDrive()
        let key = ChunkKey(stripe: 0xABCD, fragment: 3)
        let data = pattern(size, seed: size)
        try drive.put(key, data: data)
        #expect(try drive.get(key) == data)
        #expect(try drive.length(of: key) == size)
        #expect(try drive.list() == [key])
        let file = drive.filePath(for: key)
        #expect(file.hasSuffix("/chunks/cd/000000000000abcd.3"))
        #expect(FileIO.exists(file))
        let counters = drive.counters()
        #expect(counters.writes == 1 && counters.reads == 1)
        #expect(counters.bytesWritten == Int64(size) && counters.bytesRead == Int64(size))
    }

    @Test func rangeReadsEqualTheSlice() throws {
        let dir = try StorageTestDirectory()
        defer { dir.remove() }
        let drive = try dir.openDrive()
        let key = ChunkKey(stripe: 5, fragment: 0)
        let length = (1 << 20) + 7
        let data = pattern(length, seed: 1)
        try drive.put(key, data: data)
        let block = 65_536
        let ranges: [(Int, Int)] = [
            (0, 0), (0, 1), (0, block), (1, block - 2), (block - 1, 2), (block - 10, block + 20),
            (block, 3 * block), (100, 300_000), (length - 1, 1), (length - 7, 7), (length - block - 3, block + 3),
            (0, length), (length, 0), (16 * block, 7),
        ]
        for (offset, count) in ranges {
            var buffer = [UInt8](repeating: 0xEE, count: count)
            let n = try buffer.withUnsafeMutableBytes { try drive.read(key, offset: offset, into: $0) }
            #expect(n == count)
            #expect(buffer == Array(data[offset..<(offset + count)]), "offset \(offset) count \(count)")
        }
        for (offset, count) in [(length - 1, 2), (length + 1, 0), (-1, 1), (0, length + 1)] {
            var buffer = [UInt8](repeating: 0, count: count)
            #expect(throws: StorageError.rangeOutOfBounds(drive: drive.id, key: key, offset: offset, count: count, length: length)) {
                try buffer.withUnsafeMutableBytes { _ = try drive.read(key, offset: offset, into: $0) }
            }
        }
    }

    @Test func overwriteReplacesTheChunk() throws {
        let dir = try StorageTestDirectory()
        defer { dir.remove() }
        let drive = try dir.openDrive()
        let key = ChunkKey(stripe: 9, fragment: 1)
        try drive.put(key, data: pattern(200_000, seed: 1))
        let second = pattern(1_000, seed: 2)
        try drive.put(key, data: second)
        #expect(try drive.get(key) == second)
        #expect(try drive.length(of: key) == 1_000)
        #expect(try drive.list() == [key])
        #expect(try dir.names(in: "chunks/09") == ["0000000000000009.1"])
    }

    @Test func listAndDelete() throws {
        let dir = try StorageTestDirectory()
        defer { dir.remove() }
        let drive = try dir.openDrive()
        #expect(try drive.list() == [])
        let keys = [ChunkKey(stripe: 0x100, fragment: 2), ChunkKey(stripe: 0x100, fragment: 0),
                    ChunkKey(stripe: 0xFF, fragment: 11), ChunkKey(stripe: UInt64.max, fragment: UInt32.max)]
        for (i, key) in keys.enumerated() { try drive.put(key, data: pattern(i * 1000, seed: i)) }
        #expect(try drive.list() == keys.sorted())
        let usage = try drive.usage()
        #expect(usage.chunkCount == 4)
        #expect(usage.chunkBytes == Int64(6_000 + 44 + 3 * 48))  // data plus a header of 44 + 4 per block
        #expect(usage.capacityBytes > 0 && usage.freeBytes > 0 && usage.freeBytes <= usage.capacityBytes)

        try drive.delete(keys[0])
        #expect(try drive.list() == Array(keys[1...]).sorted())
        #expect(throws: StorageError.chunkNotFound(drive: drive.id, key: keys[0])) { try drive.get(keys[0]) }
        #expect(throws: StorageError.chunkNotFound(drive: drive.id, key: keys[0])) { try drive.delete(keys[0]) }
        #expect(throws: StorageError.chunkNotFound(drive: drive.id, key: keys[0])) { try drive.length(of: keys[0]) }
        #expect(drive.counters().deletes == 1)
    }

    @Test func flippedDataByteIsCorruptionOnlyWhereItIsRead() throws {
        let dir = try StorageTestDirectory()
        defer { dir.remove() }
        let drive = try dir.openDrive()
        let key = ChunkKey(stripe: 77, fragment: 4)
        let data = pattern(3 * 65_536 + 100, seed: 3)
        try drive.put(key, data: data)
        let headerSize = 40 + 4 * 4 + 4
        try flipByte(in: drive.filePath(for: key), at: headerSize + 65_536 + 1_234)

        #expect { try drive.get(key) } throws: { error in
            guard case .corruptChunk(let d, let k, .blockChecksumMismatch(block: 1, _, _)) = error as? StorageError else { return false }
            return d == drive.id && k == key
        }
        var buffer = [UInt8](repeating: 0, count: 10)
        #expect { try buffer.withUnsafeMutableBytes { try drive.read(key, offset: 65_536 + 2_000, into: $0) } } throws: { error in
            guard case .corruptChunk(_, _, .blockChecksumMismatch(block: 1, _, _)) = error as? StorageError else { return false }
            return true
        }
        // Ranges in blocks 0, 2 and 3 do not touch the damage.
        for (offset, count) in [(0, 65_536), (10, 100), (2 * 65_536, 65_536 + 100), (2 * 65_536 + 5, 10)] {
            var slice = [UInt8](repeating: 0, count: count)
            try slice.withUnsafeMutableBytes { _ = try drive.read(key, offset: offset, into: $0) }
            #expect(slice == Array(data[offset..<(offset + count)]))
        }
        #expect(drive.counters().checksumFailures == 2)
        #expect(drive.counters().ioErrors == 0)
    }

    @Test func damagedFilesGiveClearErrors() throws {
        let dir = try StorageTestDirectory()
        defer { dir.remove() }
        let drive = try dir.openDrive()
        let id = drive.id

        // Truncated data.
        let truncated = ChunkKey(stripe: 1, fragment: 0)
        try drive.put(truncated, data: pattern(100_000, seed: 1))
        let file = drive.filePath(for: truncated)
        #expect(Glibc.truncate(file, 40_000) == 0)
        #expect(throws: StorageError.corruptChunk(drive: id, key: truncated, reason: .sizeMismatch(fileSize: 40_000, expected: 100_052))) {
            try drive.get(truncated)
        }
        // Truncated inside the header.
        #expect(Glibc.truncate(file, 20) == 0)
        #expect(throws: StorageError.corruptChunk(drive: id, key: truncated, reason: .truncated(fileSize: 20, minimum: 40))) {
            try drive.length(of: truncated)
        }

        // Garbage under a valid chunk name, and an empty file.
        let garbage = ChunkKey(stripe: 2, fragment: 0)
        try FileIO.makeDirectories(dir.path + "/chunks/02")
        try FileIO.writeAtomically(drive.filePath(for: garbage), Array("this is not a chunk at all, just some text".utf8))
        #expect(throws: StorageError.corruptChunk(drive: id, key: garbage, reason: .badMagic(0x7369_6874))) {
            try drive.get(garbage)
        }
        try FileIO.writeAtomically(drive.filePath(for: garbage), [UInt8]())
        #expect(throws: StorageError.corruptChunk(drive: id, key: garbage, reason: .truncated(fileSize: 0, minimum: 40))) {
            try drive.get(garbage)
        }

        // A chunk stored under another chunk's name.
        let original = ChunkKey(stripe: 3, fragment: 1)
        let misnamed = ChunkKey(stripe: 3, fragment: 2)
        try drive.put(original, data: pattern(10, seed: 0))
        #expect(rename(drive.filePath(for: original), drive.filePath(for: misnamed)) == 0)
        let mismatch = StorageError.corruptChunk(drive: id, key: misnamed, reason: .keyMismatch(header: original, fileName: misnamed))
        #expect(throws: mismatch) { try drive.get(misnamed) }
        var one = [UInt8](repeating: 0, count: 1)
        #expect(throws: mismatch) { try one.withUnsafeMutableBytes { try drive.read(misnamed, offset: 0, into: $0) } }
        #expect(mismatch.description.contains("n1/d0") && mismatch.description.contains("fragment 2"))

        // A damaged header.
        let header = ChunkKey(stripe: 4, fragment: 0)
        try drive.put(header, data: pattern(10, seed: 0))
        try flipByte(in: drive.filePath(for: header), at: 25)
        #expect { try drive.get(header) } throws: { error in
            guard case .corruptChunk(_, _, .headerChecksumMismatch) = error as? StorageError else { return false }
            return true
        }
    }

    @Test func temporaryFilesAreNeverListedAndGetCollected() throws {
        let dir = try StorageTestDirectory()
        defer { dir.remove() }
        let drive = try dir.openDrive()
        let key = ChunkKey(stripe: 0x42, fragment: 0)
        try drive.put(key, data: pattern(10, seed: 0))
        let old = dir.path + "/chunks/42/.tmp.0000000000000042.0.999.1"
        let fresh = dir.path + "/chunks/42/.tmp.0000000000000042.1.999.2"
        try FileIO.writeAtomically(old, pattern(100, seed: 1))
        try FileIO.writeAtomically(fresh, pattern(100, seed: 2))
        // Files that are not chunks, or are chunks in the wrong directory, are not listed either.
        try FileIO.writeAtomically(dir.path + "/chunks/42/notes.txt", [1])
        try FileIO.writeAtomically(dir.path + "/chunks/0000000000000042.5", [1])
        try FileIO.makeDirectories(dir.path + "/chunks/43")
        try FileIO.writeAtomically(dir.path + "/chunks/43/0000000000000042.6", [1])
        var times = [timespec(tv_sec: time(nil) - 3_600, tv_nsec: 0), timespec(tv_sec: time(nil) - 3_600, tv_nsec: 0)]
        #expect(utimensat(AT_FDCWD, old, &times, 0) == 0)

        #expect(try drive.list() == [key])
        #expect(try drive.collectTemporaryFiles() == 1)
        #expect(!FileIO.exists(old) && FileIO.exists(fresh))
        #expect(try drive.collectTemporaryFiles(olderThan: 0) == 1)
        #expect(try dir.names(in: "chunks/42") == ["0000000000000042.0", "notes.txt"])
        #expect(try drive.usage().chunkCount == 1)
    }

    @Test func putLeavesOnlyTheChunk() throws {
        let dir = try StorageTestDirectory()
        defer { dir.remove() }
        let drive = try dir.openDrive()
        for fragment in 0..<5 { try drive.put(ChunkKey(stripe: 0x1FF, fragment: UInt32(fragment)), data: pattern(70_000, seed: fragment)) }
        #expect(try dir.names(in: "chunks") == ["ff"])
        #expect(try dir.names(in: "chunks/ff") == (0..<5).map { "00000000000001ff.\($0)" })
    }

    @Test func openRejectsMissingAndNonDirectoryPaths() throws {
        let dir = try StorageTestDirectory()
        defer { dir.remove() }
        let id = try testDriveID("d9")
        #expect(throws: StorageError.driveMissing(drive: id, path: dir.path + "/nope")) {
            try Drive.open(id: id, path: dir.path + "/nope")
        }
        try FileIO.writeAtomically(dir.path + "/file", [1])
        #expect(throws: StorageError.notADirectory(drive: id, path: dir.path + "/file")) {
            try Drive.open(id: id, path: dir.path + "/file")
        }
        // A drive whose chunks vanish with their directory (the file system was unmounted, leaving
        // the empty mount point) reports the drive missing, not the chunk.
        let drive = try Drive.open(id: id, path: dir.path + "/")
        #expect(drive.path == dir.path)
        let key = ChunkKey(stripe: 1, fragment: 1)
        try drive.put(key, data: [1, 2, 3])
        StorageTestDirectory.removeTree(dir.path + "/chunks")
        #expect(throws: StorageError.driveMissing(drive: id, path: dir.path)) { try drive.get(key) }
        #expect(throws: StorageError.driveMissing(drive: id, path: dir.path)) { try drive.list() }
        #expect(throws: StorageError.driveMissing(drive: id, path: dir.path)) { try drive.put(key, data: [1]) }
    }

    @Test func concurrentPutsAndGets() async throws {
        let dir = try StorageTestDirectory()
        defer { dir.remove() }
        let drive = try dir.openDrive()
        let shared = ChunkKey(stripe: 0xFFFF, fragment: 0)
        let sharedVersions = (0..<8).map { pattern(70_000, seed: 1_000 + $0) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    for i in 0..<20 {
                        let key = ChunkKey(stripe: UInt64(worker * 100 + i), fragment: UInt32(worker))
                        let data = pattern(i * 5_000 + worker, seed: worker * 100 + i)
                        try drive.put(key, data: data)
                        #expect(try drive.get(key) == data)
                        try drive.put(shared, data: sharedVersions[worker])
                        // Whatever version a reader sees, it sees one whole version.
                        let seen = try drive.get(shared)
                        #expect(sharedVersions.contains(seen))
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(try drive.list().count == 8 * 20 + 1)
        #expect(drive.counters().writes == 8 * 20 * 2)
        #expect(drive.counters().reads == 8 * 20 * 2)
        #expect(try dir.names(in: "chunks").allSatisfy { !$0.hasPrefix(".") })
    }
}

// MARK: - Helpers

/// Deterministic bytes that differ per position and seed, so a misplaced block shows.
func pattern(_ count: Int, seed: Int) -> [UInt8] {
    var state = UInt64(truncatingIfNeeded: seed) &* 0x9E37_79B9_7F4A_7C15 &+ 1
    return (0..<count).map { _ in
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return UInt8(truncatingIfNeeded: state)
    }
}

func flipByte(in file: String, at offset: Int) throws {
    var bytes = try FileIO.readBytes(file, limit: 1 << 30)
    bytes[offset] ^= 0x40
    try FileIO.writeAtomically(file, bytes)
}

func testDriveID(_ name: String, node: String = "n1") throws -> DriveID {
    guard let node = NodeID(node), let id = DriveID(node: node, name: name) else {
        throw StorageTestFailure(description: "bad test drive id \(node)/\(name)")
    }
    return id
}

struct StorageTestFailure: Error, CustomStringConvertible {
    var description: String
}

/// A fresh directory under /tmp, removed by `remove()`.
struct StorageTestDirectory {
    let path: String

    init() throws {
        var template = Array("/tmp/granary-storage-XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ $0.baseAddress.flatMap { mkdtemp($0) } }) else {
            throw StorageTestFailure(description: "mkdtemp failed")
        }
        path = String(cString: made)
    }

    func openDrive(name: String = "d0") throws -> Drive {
        let id = try testDriveID(name)
        return try Drive.open(id: id, path: path)
    }

    func names(in relative: String) throws -> [String] {
        try Self.entries(path + "/" + relative).sorted()
    }

    func remove() { Self.removeTree(path) }

    static func entries(_ directory: String) throws -> [String] {
        guard let dir = opendir(directory) else { throw FileIO.Failure("opendir", directory) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: &entry.pointee.d_name) {
                String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self))
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    static func removeTree(_ path: String) {
        if FileIO.isDirectory(path) {
            for name in (try? entries(path)) ?? [] { removeTree(path + "/" + name) }
            rmdir(path)
        } else {
            unlink(path)
        }
    }
}

/// A small tmpfs mounted on a fresh directory (needs root and CAP_SYS_ADMIN); unmounted and removed
/// by `remove()`.
struct TmpfsMount {
    let directory: StorageTestDirectory
    var path: String { directory.path }

    /// Whether this machine lets us mount tmpfs; the tests that need it are skipped where not
    /// (unprivileged containers, non-root runs).
    static let isAvailable: Bool = {
        guard let probe = try? TmpfsMount(size: "64k") else { return false }
        probe.remove()
        return true
    }()

    init(size: String) throws {
        directory = try StorageTestDirectory()
        guard mount("tmpfs", directory.path, "tmpfs", 0, "size=\(size)") == 0 else {
            let failure = FileIO.Failure("mount tmpfs", directory.path)
            directory.remove()
            throw failure
        }
    }

    func remountReadOnly() throws {
        guard mount(nil, path, nil, UInt(MS_REMOUNT | MS_RDONLY), nil) == 0 else {
            throw FileIO.Failure("remount read-only", path)
        }
    }

    func remove() {
        umount2(path, Int32(MNT_DETACH))
        directory.remove()
    }
}
