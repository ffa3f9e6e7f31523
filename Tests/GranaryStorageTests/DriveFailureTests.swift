#if canImport(Glibc)
import Glibc
#endif
import GranaryCore
@testable import GranaryStorage
import Testing

/// Full and read-only drives, on real tmpfs mounts. Mounting needs root with CAP_SYS_ADMIN; where the
/// probe mount fails (unprivileged container, non-root run) these tests are skipped, not failed.
@Suite(.enabled(if: TmpfsMount.isAvailable, "needs permission to mount tmpfs"))
struct DriveFailureTests {
    @Test func fullDriveReportsDriveFullAndLeavesNoPartialChunk() throws {
        let mount = try TmpfsMount(size: "256k")
        defer { mount.remove() }
        let drive = try mount.directory.openDrive()
        var stored: [ChunkKey: [UInt8]] = [:]
        var failure: StorageError?
        for i in 0..<100 {
            // All in one fan-out directory, so one listing shows every file a put left behind.
            let key = ChunkKey(stripe: UInt64(i) << 8, fragment: 0)
            let data = pattern(60_000, seed: i)
            do throws(StorageError) {
                try drive.put(key, data: data)
                stored[key] = data
            } catch {
                failure = error
                #expect(error == .driveFull(drive: drive.id, key: key))
                #expect(error.description.contains("n1/d0"))
                break
            }
        }
        #expect(failure != nil)
        #expect(!stored.isEmpty)
        #expect(try drive.list() == stored.keys.sorted())
        #expect(try mount.directory.names(in: "chunks/00") == stored.keys.sorted().map(\.fileName))
        for (key, data) in stored { #expect(try drive.get(key) == data) }

        // Overwriting a chunk on a full drive fails and leaves the old chunk whole.
        let first = try #require(stored.keys.min())
        #expect(throws: StorageError.driveFull(drive: drive.id, key: first)) {
            try drive.put(first, data: pattern(200_000, seed: 99))
        }
        #expect(try drive.get(first) == stored[first])
        #expect(try mount.directory.names(in: "chunks/00").allSatisfy { !$0.hasPrefix(".") })
        #expect(drive.counters().fullErrors == 2)

        // Deleting makes room again.
        try drive.delete(first)
        try drive.put(first, data: pattern(10_000, seed: 5))
        #expect(try drive.get(first) == pattern(10_000, seed: 5))
        #expect(!drive.isReadOnly)
    }

    @Test func readOnlyDriveServesReadsAndRefusesWrites() throws {
        let mount = try TmpfsMount(size: "1m")
        defer { mount.remove() }
        let writable = try mount.directory.openDrive()
        let key = ChunkKey(stripe: 3, fragment: 1)
        let data = pattern(100_000, seed: 3)
        try writable.put(key, data: data)
        try mount.remountReadOnly()

        let drive = try mount.directory.openDrive()
        #expect(drive.isReadOnly)
        #expect(try drive.get(key) == data)
        var slice = [UInt8](repeating: 0, count: 10)
        try slice.withUnsafeMutableBytes { _ = try drive.read(key, offset: 70_000, into: $0) }
        #expect(slice == Array(data[70_000..<70_010]))
        #expect(try drive.list() == [key])
        #expect(try drive.usage().chunkCount == 1)
        #expect(throws: StorageError.driveReadOnly(drive: drive.id)) { try drive.put(key, data: [1]) }
        #expect(throws: StorageError.driveReadOnly(drive: drive.id)) { try drive.delete(key) }
        #expect(try drive.collectTemporaryFiles(olderThan: 0) == 0)

        // A drive opened writable notices the file system turned read-only at its next write.
        #expect(!writable.isReadOnly)
        #expect(throws: StorageError.driveReadOnly(drive: writable.id)) {
            try writable.put(ChunkKey(stripe: 4, fragment: 0), data: [1, 2])
        }
        #expect(writable.isReadOnly)
        #expect(try writable.get(key) == data)

        let node = try #require(NodeID("n1"))
        let store = try ChunkStore(node: node, drives: [(name: "ro", path: mount.path)])
        let status = try #require(store.drives().first)
        #expect(status.state == .readOnly)
        #expect(status.usage?.chunkCount == 1)
        #expect(status.info.state == .readOnly)
    }

    @Test func freshReadOnlyDriveWithoutChunksDirectoryOpens() throws {
        let mount = try TmpfsMount(size: "64k")
        defer { mount.remove() }
        try mount.remountReadOnly()
        let drive = try mount.directory.openDrive()
        #expect(drive.isReadOnly)
        #expect(try drive.list() == [])
        #expect(throws: StorageError.chunkNotFound(drive: drive.id, key: ChunkKey(stripe: 1, fragment: 0))) {
            try drive.get(ChunkKey(stripe: 1, fragment: 0))
        }
    }
}
