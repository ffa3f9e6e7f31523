import Foundation
import GranaryClient
import GranaryCore
import GranaryMeta
import GranaryTransport
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension IntegrationSuites {
    /// Erasure-coded files on real storage processes: import, lost nodes, corruption, a killed writer.
    @Suite(.serialized) struct ErasureIntegrationTests {
        /// A local tree of mixed small (packed) and large (own stripes) files with distinct contents.
        static func makeTree(_ root: String, seed: UInt64) throws -> [String: [UInt8]] {
            var rng = seed
            func next() -> UInt64 { rng = rng &* 6364136223846793005 &+ 1442695040888963407; return rng >> 11 }
            var files: [String: [UInt8]] = [:]
            try FileIO.makeDirectories(root + "/a/b")
            let sizes = [0, 1, 4095, 4096, 10_000, 33_333, 60_000, 99_999] + (0..<16).map { _ in Int(next() % 90_000) } + [150_000, 700_001, 1_300_000]
            for (i, size) in sizes.enumerated() {
                let rel = (i % 3 == 0 ? "a/b/" : i % 3 == 1 ? "a/" : "") + "f\(i).bin"
                let bytes = (0..<size).map { _ in UInt8(truncatingIfNeeded: next()) }
                try FileIO.writeAtomically(root + "/" + rel, bytes)
                files["/" + rel] = bytes
            }
            return files
        }

        static func client(_ cluster: ClusterHarness, smallFile: Int = 100_000) -> (FileClient, TCPTransport) {
            let t = TCPTransport(secret: cluster.secret, logger: cluster.logger)
            var s = FileClientSettings()
            s.smallFileThreshold = smallFile
            s.mapMaxAgeMs = 0
            s.hedgeAfterMs = 3000
            s.fragmentTimeoutMs = 5000
            return (FileClient(managers: cluster.managerEndpoints, transport: t, settings: s, logger: cluster.logger), t)
        }

        /// Writes `count` files of `size` bytes as /ds/f0.bin, /ds/f1.bin… under a 4+2 layout of
        /// 64 KiB fragments, each file's content distinct and deterministic (`salt` varies it
        /// between tests); returns every path's bytes.
        static func writeSpread(_ client: FileClient, count: Int, size: Int, salt: Int) async throws -> [String: [UInt8]] {
            let dir = try await client.meta.mkdirAll("/ds")
            try await client.meta.setLayout(dir.id, StripeLayout(k: 4, m: 2, fragmentSize: 64 << 10, backend: "isa_l_rs_cauchy"))
            var files: [String: [UInt8]] = [:]
            for i in 0..<count {
                let bytes = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* (i + salt) &+ ($0 >> 10)) }
                files["/ds/f\(i).bin"] = bytes
                try await client.writeFile("/ds/f\(i).bin", bytes: bytes)
            }
            return files
        }

        @Test(arguments: [(4, 2), (6, 3), (8, 3)])
        func importSurvivesMLostNodesAndFailsCleanlyBeyond(k: Int, m: Int) async throws {
            let cluster = try ClusterHarness(nodes: k + m, drives: 1, heartbeatTimeoutMs: 1500)
            defer { cluster.shutdown() }
            #expect(await cluster.waitFor(seconds: 30) { $0.nodes.count == k + m && $0.allUp } != nil)
            let (client, t) = Self.client(cluster)
            defer { t.closeAll() }
            let dest = try await client.meta.mkdirAll("/ds")
            try await client.meta.setLayout(dest.id, StripeLayout(k: k, m: m, fragmentSize: 64 << 10, backend: "isa_l_rs_cauchy"))
            let files = try Self.makeTree(cluster.dir + "/src", seed: UInt64(k * 100 + m))
            let report = try await Importer(client: client, parallel: 3, verify: true).run(local: cluster.dir + "/src", to: "/ds") { _ in }
            #expect(report.files == files.count)
            #expect(report.verified == files.count)
            #expect(report.packedFiles > 0 && report.packedFiles < files.count)
            // Packing: far fewer stripes than files.
            #expect(report.stripes < files.count)

            // Every fragment of a stripe on its own node (k + m nodes are up).
            let big = try await client.meta.resolve("/ds/f26.bin")
            for s in try await client.meta.fileMap(big.id).stripes.values {
                #expect(Set(s.fragments.map(\.drive.node)).count == k + m)
                #expect(s.layout.k == k && s.layout.m == m)
            }

            // Importing again skips everything.
            let again = try await Importer(client: client, parallel: 3, verify: false).run(local: cluster.dir + "/src", to: "/ds") { _ in }
            #expect(again.skipped == files.count && again.files == 0)

            // m nodes die: every file still reads back byte for byte.
            for n in 1...m { cluster.kill9("node-\(n)") }
            for (path, bytes) in files {
                #expect(try await client.readFile("/ds" + path) == bytes, "\(path) differs with \(m) nodes down")
            }
            #expect(client.readCounters.degradedReads > 0)

            // One more: a file with data on every node cannot be read, and the error names it and its stripe.
            cluster.kill9("node-\(m + 1)")
            await #expect {
                _ = try await client.readFile("/ds/f26.bin")
            } throws: { e in
                guard case let .stripeUnreadable(file, _, readable, needed, _) = e as? ClientError else { return false }
                return file == "/ds/f26.bin" && readable == k - 1 && needed == k && "\(e)".contains("stripe")
            }
        }

        @Test func corruptFragmentIsDetectedReadAroundAndRepairedByScrubAndMissingPathsAreNamed() async throws {
            let cluster = try ClusterHarness(nodes: 6, drives: 1, heartbeatTimeoutMs: 1500, repair: RepairIntegrationTests.fastRepair())
            defer { cluster.shutdown() }
            #expect(await cluster.waitFor(seconds: 30) { $0.nodes.count == 6 && $0.allUp } != nil)
            let (client, t) = Self.client(cluster)
            defer { t.closeAll() }
            _ = try await client.meta.mkdirAll("/c")
            let data = (0..<3_000_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ ($0 >> 12)) }
            try await client.writeFile("/c/model.ckpt", bytes: data)

            // Flip one byte of data fragment 0 of the first stripe, on its drive.
            let inode = try await client.meta.resolve("/c/model.ckpt")
            let map = try await client.meta.fileMap(inode.id)
            let first = try #require(map.extents.first.flatMap { map.stripes[$0.stripe] })
            let placement = first.fragments[0]
            let chunkDir = "\(cluster.dir)/\(placement.drive.node)/\(placement.drive.name)/chunks"
            let path = try #require(Self.find(first.key(0).fileName, under: chunkDir))
            let fd = open(path, O_RDWR)
            #expect(fd >= 0)
            var st = stat()
            fstat(fd, &st)
            var byte: UInt8 = 0
            pread(fd, &byte, 1, off_t(st.st_size) - 100)
            byte ^= 0x40
            pwrite(fd, &byte, 1, off_t(st.st_size) - 100)
            close(fd)

            #expect(try await client.readFile("/c/model.ckpt") == data)
            let failures = client.readCounters.fragmentFailures
            #expect(failures.contains { $0.contains("fragment 0") && $0.contains("CRC32C") }, "\(failures)")

            // Scrub finds the bad fragment, rebuilds it under a new generation and deletes the bad chunk.
            let manager = cluster.manager()
            defer { manager.close() }
            _ = try await manager.startScrub()
            let (scrubbed, finished) = await RepairIntegrationTests.waitRepair(cluster, seconds: 30) { s in
                s.scrub.finishedAt != nil && !s.scrub.running && !s.scrub.requested
            }
            #expect(finished, "scrub did not finish: \(String(describing: scrubbed))")
            let sc = try #require(scrubbed?.scrub)
            #expect(sc.corrupt == 1 && sc.repaired == 1 && sc.unrepairable == 0, "\(sc)")
            #expect(sc.stripesChecked == map.stripes.count && sc.fragmentsChecked == 6 * map.stripes.count)
            #expect(sc.findings.contains { $0.contains("stripe \(String(first.id, radix: 16)) fragment 0") }, "\(sc.findings)")
            let repaired = try #require(try await client.meta.stripes([first.id]).first)
            #expect(repaired.version == first.version + 1 && repaired.fragments[0].generation == 2)
            #expect(Array(repaired.fragments.dropFirst()) == Array(first.fragments.dropFirst()))
            #expect(!FileManager.default.fileExists(atPath: path), "the corrupt chunk is still there")
            let (fresh, t2) = Self.client(cluster)
            defer { t2.closeAll() }
            #expect(try await fresh.readFile("/c/model.ckpt") == data)
            #expect(fresh.readCounters.degradedReads == 0, "\(fresh.readCounters)")

            // Replacing is copy-on-write: the old content stays readable until the commit, then the new one is there.
            let v2 = Array(data.reversed())
            try await client.writeFile("/c/model.ckpt", bytes: v2, replace: true)
            #expect(try await client.readFile("/c/model.ckpt") == v2)
            await #expect(throws: ClientError.meta(.noSuchPath("/c/missing"))) { _ = try await client.readFile("/c/missing") }
            await #expect(throws: ClientError.meta(.exists(parent: try await client.meta.resolve("/c").id, name: "model.ckpt"))) {
                try await client.writeFile("/c/model.ckpt", bytes: [1, 2, 3])
            }
        }

        @Test func killedWriterLeavesNoVisibleFileAndCollectionRemovesItsFragments() async throws {
            let cluster = try ClusterHarness(nodes: 6, drives: 1, heartbeatTimeoutMs: 1500, repair: RepairIntegrationTests.fastRepair(gcGraceS: 1))
            defer { cluster.shutdown() }
            #expect(await cluster.waitFor(seconds: 30) { $0.nodes.count == 6 && $0.allUp } != nil)
            let config = cluster.dir + "/client.toml"
            try FileIO.writeAtomically(config, ClientConfig(file: config, managers: [cluster.managerEndpoint], secretFile: cluster.secretFile).toml)
            let big = cluster.dir + "/big.bin"
            let fd = open(big, O_WRONLY | O_CREAT, 0o644)
            ftruncate(fd, 96 << 20)
            close(fd)
            let writer = Process()
            writer.executableURL = URL(fileURLWithPath: ClusterHarness.binDir + "/granary")
            writer.arguments = ["cp", "--config", config, big, "granary:/big.bin"]
            try writer.run()
            // Wait until fragments are landing on the drives, then kill the writer mid-file.
            let start = Date()
            while Self.countChunks(cluster.dir) < 12 && writer.isRunning && Date().timeIntervalSince(start) < 60 {
                try await Task.sleep(for: .milliseconds(5))
            }
            #expect(writer.isRunning, "the writer finished before it could be killed")
            kill(writer.processIdentifier, SIGKILL)
            writer.waitUntilExit()
            #expect(Self.countChunks(cluster.dir) >= 12)
            let (client, t) = Self.client(cluster)
            defer { t.closeAll() }
            await #expect(throws: ClientError.meta(.noSuchPath("/big.bin"))) { _ = try await client.meta.resolve("/big.bin") }
            #expect(try await client.meta.readdir(.root).isEmpty)

            // The abandoned fragments are orphans: collection deletes them once the grace period is over.
            var left = Self.countChunks(cluster.dir)
            for _ in 0..<150 where left > 0 {
                try await Task.sleep(for: .milliseconds(200))
                left = Self.countChunks(cluster.dir)
            }
            #expect(left == 0, "\(left) orphaned chunks remain")
            let manager = cluster.manager()
            defer { manager.close() }
            #expect(try await manager.repairStatus().collection.orphanChunksDeleted >= 12)

            // A removed file's stripes are collected too.
            try await client.writeFile("/gone.bin", bytes: Array(repeating: 7, count: 3 << 20))
            #expect(Self.countChunks(cluster.dir) > 0)
            try await client.meta.unlink(.root, "gone.bin")
            for _ in 0..<150 where Self.countChunks(cluster.dir) > 0 { try await Task.sleep(for: .milliseconds(200)) }
            #expect(Self.countChunks(cluster.dir) == 0)
            #expect(try await manager.repairStatus().collection.stripesCollected >= 1)
        }

        static func find(_ name: String, under dir: String) -> String? {
            guard let e = FileManager.default.enumerator(atPath: dir) else { return nil }
            for case let p as String in e where p.hasSuffix("/" + name) || p == name { return dir + "/" + p }
            return nil
        }

        static func countChunks(_ dir: String) -> Int {
            var n = 0
            guard let e = FileManager.default.enumerator(atPath: dir) else { return 0 }
            for case let p as String in e where p.contains("/chunks/") && ChunkKey(fileName: URL(fileURLWithPath: p).lastPathComponent) != nil { n += 1 }
            return n
        }
    }
}
