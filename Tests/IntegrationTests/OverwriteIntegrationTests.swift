import Foundation
import GranaryClient
import GranaryCore
import GranaryMeta
import Testing

extension IntegrationSuites {
    /// Overwrites on real processes: copy-on-write of the touched stripes only.
    @Suite(.serialized) struct OverwriteIntegrationTests {
        @Test func overwriteRewritesOnlyTheTouchedStripesAndGrowsWithZeros() async throws {
            let cluster = try ClusterHarness(nodes: 6, drives: 1, heartbeatTimeoutMs: 1500)
            defer { cluster.shutdown() }
            #expect(await cluster.waitFor(seconds: 30) { $0.nodes.count == 6 && $0.allUp } != nil)
            let (client, t) = ErasureIntegrationTests.client(cluster)
            defer { t.closeAll() }
            let dir = try await client.meta.mkdirAll("/w")
            try await client.meta.setLayout(dir.id, StripeLayout(k: 4, m: 2, fragmentSize: 16 << 10, backend: "isa_l_rs_cauchy"))
            var expected = (0..<1_000_000).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ ($0 >> 8)) }
            let inode = try await client.writeFile("/w/ckpt.bin", bytes: expected)
            let before = try await client.meta.fileMap(inode.id)
            #expect(before.extents.count == 16)  // 64 KiB stripes

            // 100 bytes across the boundary of the 3rd and 4th stripe: exactly those two are replaced.
            let patch = [UInt8](repeating: 0xAB, count: 100)
            let at = 3 * 65_536 - 50
            try await client.write(inode.id, path: "/w/ckpt.bin", at: Int64(at), bytes: patch)
            expected.replaceSubrange(at..<(at + 100), with: patch)
            #expect(try await client.readFile("/w/ckpt.bin") == expected)
            let after = try await client.meta.fileMap(inode.id)
            let changed = zip(before.extents, after.extents).filter { $0.0.stripe != $0.1.stripe }.map { $0.0.fileOffset }
            #expect(changed == [2 * 65_536, 3 * 65_536], "\(changed)")

            // A write past the end grows the file; the gap reads as zeros.
            let tail = [UInt8](repeating: 0x5A, count: 10)
            try await client.write(inode.id, path: "/w/ckpt.bin", at: 1_200_000, bytes: tail)
            expected += [UInt8](repeating: 0, count: 200_000) + tail
            #expect(try await client.readFile("/w/ckpt.bin") == expected)
            #expect(try await client.meta.getattr(inode.id).size == 1_200_010)

            // A packed small file is rewritten on its own; its neighbours in the pack are untouched.
            try FileIO.makeDirectories(cluster.dir + "/small")
            let a = [UInt8](repeating: 1, count: 3000), b = [UInt8](repeating: 2, count: 5000)
            try FileIO.writeAtomically(cluster.dir + "/small/a", a)
            try FileIO.writeAtomically(cluster.dir + "/small/b", b)
            _ = try await Importer(client: client, parallel: 2, verify: true).run(local: cluster.dir + "/small", to: "/w/small") { _ in }
            let aInode = try await client.meta.resolve("/w/small/a")
            try await client.write(aInode.id, path: "/w/small/a", at: 10, bytes: [9, 9])
            var a2 = a
            a2[10] = 9
            a2[11] = 9
            #expect(try await client.readFile("/w/small/a") == a2)
            #expect(try await client.readFile("/w/small/b") == b)
        }
    }
}
