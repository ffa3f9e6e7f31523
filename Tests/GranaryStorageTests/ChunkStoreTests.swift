#if canImport(Glibc)
import Glibc
#endif
import GranaryCore
@testable import GranaryStorage
import Testing

@Suite struct ChunkStoreTests {
    @Test func failedDrivesAreReportedWhileOthersWork() throws {
        let good = try StorageTestDirectory()
        let other = try StorageTestDirectory()
        defer { good.remove(); other.remove() }
        let node = try #require(NodeID("node-1"))
        try FileIO.writeAtomically(other.path + "/plain-file", [1])
        let store = try ChunkStore(node: node, drives: [
            (name: "d0", path: good.path),
            (name: "d1", path: other.path + "/missing"),
            (name: "d2", path: other.path + "/plain-file"),
        ])
        let d0 = try #require(DriveID(node: node, name: "d0"))
        let d1 = try #require(DriveID(node: node, name: "d1"))
        let d2 = try #require(DriveID(node: node, name: "d2"))

        let drive = try store.drive(named: "d0")
        let key = ChunkKey(stripe: 12, fragment: 0)
        try drive.put(key, data: pattern(1_000, seed: 1))
        #expect(try store.drive(named: "d0").get(key) == pattern(1_000, seed: 1))

        let missing = StorageError.driveMissing(drive: d1, path: other.path + "/missing")
        #expect(throws: StorageError.driveUnavailable(drive: d1, reason: missing)) { try store.drive(named: "d1") }
        #expect(throws: StorageError.driveUnavailable(drive: d2, reason: .notADirectory(drive: d2, path: other.path + "/plain-file"))) {
            try store.drive(named: "d2")
        }
        #expect(throws: StorageError.unknownDrive(node: node, name: "d3")) { try store.drive(named: "d3") }
        #expect(store.openDrives().map(\.id) == [d0])

        let statuses = store.drives()
        #expect(statuses.map(\.id) == [d0, d1, d2])
        #expect(statuses[0].state == .ok)
        #expect(statuses[0].usage?.chunkCount == 1)
        #expect(statuses[1] == DriveStatus(id: d1, path: other.path + "/missing", state: .failed(reason: missing), usage: nil))
        #expect(statuses[1].info.state == .failed)
        #expect(statuses[1].info.problem?.contains("does not exist") == true)
        #expect(statuses[0].info.state == .up && statuses[0].info.chunkCount == 1)
        #expect(StorageError.driveUnavailable(drive: d1, reason: missing).description.contains("node-1/d1"))
    }

    @Test func invalidOrDuplicateNamesAreConfigurationErrors() throws {
        let dir = try StorageTestDirectory()
        defer { dir.remove() }
        let node = try #require(NodeID("n1"))
        #expect(throws: StorageError.invalidDriveName(node: node, name: "a/b")) {
            try ChunkStore(node: node, drives: [(name: "a/b", path: dir.path)])
        }
        #expect(throws: StorageError.invalidDriveName(node: node, name: "d0")) {
            try ChunkStore(node: node, drives: [(name: "d0", path: dir.path), (name: "d0", path: dir.path)])
        }
    }
}
