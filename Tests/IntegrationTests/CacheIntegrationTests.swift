import Foundation
import GranaryClient
import GranaryCore
import GranaryBuffers
import GranaryFUSE
import GranaryLoader
import GranaryMeta
import GranaryPrefetch
import Logging
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension IntegrationSuites {
    /// The client cache against real storage processes: memory and disk tiers, stale entries after
    /// an overwrite, restart and corruption of the disk tier, hinted prefetch within its budget, and
    /// reads through a real mount.
    @Suite(.serialized) struct CacheIntegrationTests {
        static func bytes(_ n: Int, _ seed: Int) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: ($0 &* 131) ^ (seed &* 7919) ^ ($0 >> 9)) } }

        static func settings(memory: Int, dir: String?, policy: CacheSettings.Policy = .lru) -> CacheSettings {
            var s = CacheSettings()
            s.policy = policy
            s.memoryBytes = memory
            s.directory = dir
            s.diskBytes = dir == nil ? 0 : 64 << 20
            s.minFreeRatio = 0
            s.lockMemory = false
            return s
        }

        /// A directory whose files are striped 2 + 1 (three single-drive nodes).
        static func mkdir(_ client: FileClient, _ path: String) async throws {
            let d = try await client.meta.mkdirAll(path)
            try await client.meta.setLayout(d.id, StripeLayout(k: 2, m: 1, fragmentSize: 64 << 10, backend: "isa_l_rs_cauchy"))
        }

        static func read(_ cache: ReadCache, _ client: FileClient, _ path: String, key: String? = nil) async throws -> [UInt8] {
            let inode = try await client.meta.resolve(path)
            let map = try await client.meta.fileMap(inode.id)
            let out = OwnedBuffer(count: Int(map.inode.size))
            let n = try await cache.read(map, path: path, key: key ?? path, job: "test", offset: 0, into: out.raw)
            #expect(n == Int(map.inode.size))
            return out.bytes
        }

        @Test func memoryHitsAndAnOverwrittenFileIsNeverServedStale() async throws {
            let cluster = try ClusterHarness(nodes: 3, drives: 1)
            defer { cluster.shutdown() }
            #expect(await cluster.waitFor(seconds: 30) { $0.nodes.count == 3 && $0.allUp } != nil)
            let (client, t) = ErasureIntegrationTests.client(cluster)
            defer { t.closeAll() }
            try await Self.mkdir(client, "/c")
            let a = Self.bytes(50_000, 1)
            try await client.writeFile("/c/a", bytes: a)
            let cache = try ReadCache(client: client, settings: Self.settings(memory: 8 << 20, dir: nil), namespace: "t", logger: cluster.logger)
            let traceFile = cluster.dir + "/trace.jsonl"
            try cache.startBackground(traceOut: traceFile)
            #expect(try await Self.read(cache, client, "/c/a") == a)
            #expect(try await Self.read(cache, client, "/c/a") == a)
            var s = cache.stats
            #expect(s.misses == 1)
            #expect(s.memoryHits == 1)
            #expect(s.memoryEntries == 1)
            // Rewritten: the same key with a new file map must come from the new stripes.
            let b = Self.bytes(50_000, 2)
            try await client.writeFile("/c/a", bytes: b, replace: true)
            #expect(try await Self.read(cache, client, "/c/a") == b)
            s = cache.stats
            #expect(s.misses == 2)
            #expect(s.memoryHits == 1)
            // Ranges of one file are separate items, each exact.
            let inode = try await client.meta.resolve("/c/a")
            let map = try await client.meta.fileMap(inode.id)
            let part = OwnedBuffer(count: 1000)
            #expect(try await cache.read(map, path: "/c/a", key: "/c/a#x", job: "test", offset: 49_500, into: part.raw) == 500)
            #expect(Array(part.bytes[0..<500]) == Array(b[49_500...]))
            // The trace file holds every access, in order, as the ring does.
            await cache.close()
            let written = try TraceReader.readAll(path: traceFile)
            #expect(written.map(\.key) == ["/c/a", "/c/a", "/c/a", "/c/a#x"])
            #expect(written.map(\.size) == [50_000, 50_000, 50_000, 500])
            #expect(written.last?.offset == 49_500)
            #expect(written == cache.trace.snapshot())
        }

        @Test func diskTierSurvivesRestartAndACorruptEntryIsFetchedAgain() async throws {
            let cluster = try ClusterHarness(nodes: 3, drives: 1)
            defer { cluster.shutdown() }
            #expect(await cluster.waitFor(seconds: 30) { $0.nodes.count == 3 && $0.allUp } != nil)
            let (client, t) = ErasureIntegrationTests.client(cluster)
            defer { t.closeAll() }
            try await Self.mkdir(client, "/d")
            var files: [String: [UInt8]] = [:]
            for i in 0..<5 {
                files["/d/f\(i)"] = Self.bytes(20_000 + i * 1000, i)
                try await client.writeFile("/d/f\(i)", bytes: files["/d/f\(i)"] ?? [])
            }
            let dir = cluster.dir + "/cache"
            do {
                // No memory tier: every fetched item goes to disk at once.
                let first = try ReadCache(client: client, settings: Self.settings(memory: 0, dir: dir), namespace: "t", logger: cluster.logger)
                for (p, b) in files { #expect(try await Self.read(first, client, p) == b) }
                #expect(first.stats.diskEntries == 5)
                // A second process on the same directory is refused, naming it.
                #expect(throws: ClientError.self) {
                    _ = try ReadCache(client: client, settings: Self.settings(memory: 0, dir: dir), namespace: "t", logger: cluster.logger)
                }
            }
            let second = try ReadCache(client: client, settings: Self.settings(memory: 0, dir: dir), namespace: "t", logger: cluster.logger)
            #expect(second.stats.diskEntries == 5)
            for (p, b) in files { #expect(try await Self.read(second, client, p) == b) }
            #expect(second.stats.diskHits == 5)
            #expect(second.stats.misses == 0)
            // Damage one entry's bytes on disk: it is dropped and the read still returns the file.
            let victim = try #require(DiskCacheTier.scan(root: dir + "/t", dropInvalid: false).entries.first)
            let fd = open(dir + "/t/" + victim.file, O_WRONLY)
            var junk: UInt8 = 0xEE
            #expect(pwrite(fd, &junk, 1, 200) == 1)
            close(fd)
            for (p, b) in files { #expect(try await Self.read(second, client, p) == b) }
            let s = second.stats
            #expect(s.diskDropped == 1)
            #expect(s.misses == 1)
            #expect(s.diskEntries == 5)
        }

        @Test func mountReadsGoThroughTheCache() async throws {
            guard FUSELibrary.deviceUsable && getuid() == 0 else { return }
            let cluster = try ClusterHarness(nodes: 3, drives: 1)
            defer { cluster.shutdown() }
            #expect(await cluster.waitFor(seconds: 30) { $0.nodes.count == 3 && $0.allUp } != nil)
            let (client, t) = ErasureIntegrationTests.client(cluster)
            defer { t.closeAll() }
            try await Self.mkdir(client, "/m")
            let small = Self.bytes(70_000, 3), large = Self.bytes(3 << 20 + 12345, 4)
            try await client.writeFile("/m/small", bytes: small)
            try await client.writeFile("/m/large", bytes: large)
            let cache = try ReadCache(client: client, settings: Self.settings(memory: 32 << 20, dir: nil), namespace: "t", logger: cluster.logger)
            client.setCache(cache)
            defer { client.setCache(nil) }
            let mnt = cluster.dir + "/mnt"
            try FileIO.makeDirectories(mnt)
            var o = MountOptions()
            o.attrTimeout = 0
            o.entryTimeout = 0
            let fs = GranaryFileSystem(client: client, options: o, logger: cluster.logger)
            let mount = try FUSEMount(mountpoint: mnt, fileSystem: fs, logger: cluster.logger)
            mount.start()
            defer { mount.stop() }
            for _ in 0..<2 {
                #expect(FileManager.default.contents(atPath: mnt + "/m/small").map { Array($0) } == small)
                #expect(FileManager.default.contents(atPath: mnt + "/m/large").map { Array($0) } == large)
                // Drop the kernel's page cache for the files so the second pass asks the mount again.
                for f in ["small", "large"] {
                    let fd = open(mnt + "/m/" + f, O_RDONLY)
                    _ = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED)
                    close(fd)
                }
            }
            let s = cache.stats
            // small is one item; large is four 1 MiB blocks.
            #expect(s.memoryEntries == 5)
            #expect(s.misses <= 5)
            #expect(s.memoryHits + s.lateHits >= 5)
            #expect(cache.trace.snapshot().contains { $0.key.hasSuffix("/large#3") })
        }
    
        @Test func loaderPrefetchesAnnouncedSamplesWithinItsBudget() async throws {
            let cluster = try ClusterHarness(nodes: 3, drives: 2)
            defer { cluster.shutdown() }
            #expect(await cluster.waitFor(seconds: 30) { $0.nodes.count == 3 && $0.allUp } != nil)
            let (client, t) = ErasureIntegrationTests.client(cluster)
            defer { t.closeAll() }
            let files = try await LoaderIntegrationTests.imageFolder(cluster, client)
            let dataset = try await Dataset.open("/ds/img", format: .files(extensions: ["bin"]), label: .pathComponent(-2), client: client)
            let budget = 256 << 10
            let config = LoaderConfiguration(batchSize: 4, seed: 3, concurrentReads: 2, prefetchBatches: 1, hintBatches: 3,
                                             prefetchMemoryBytes: budget)
            let loader = try Loader(dataset: dataset, client: client, pool: try LoaderIntegrationTests.pool(cluster), configuration: config)
            let cache = try #require(client.cache)
            defer { client.setCache(nil) }
            #expect(cache.stats.policy == "hinted")
            for epoch in 0..<2 {
                var seen = 0
                for try await batch in loader.epoch(epoch) {
                    for sample in batch {
                        #expect(Array(sample.bytes) == files[sample.key], "sample \(sample.key)")
                        seen += 1
                    }
                }
                #expect(seen == files.count)
            }
            let s = cache.stats
            #expect(s.prefetchIssued > 0)
            #expect(s.prefetchUsed > 0)
            #expect(s.memoryHits + s.lateHits > 0)
            // The announced samples are fetched no further ahead than the budget allows.
            #expect(s.memoryPeakBytes <= budget)
            #expect(s.memoryBytes <= budget)
            #expect(cache.trace.snapshot().allSatisfy { $0.job.hasPrefix("loader /ds/img") })
        }
    
        /// Over TCP, a sample's bytes land in a pooled buffer and are never copied again: read
        /// straight into the loader's buffer without a cache, and handed over as the cache's own
        /// buffer with one.
        @Test func loaderReadsCopyNoSampleBytes() async throws {
            let cluster = try ClusterHarness(nodes: 3, drives: 2)
            defer { cluster.shutdown() }
            #expect(await cluster.waitFor(seconds: 30) { $0.nodes.count == 3 && $0.allUp } != nil)
            let (setup, t0) = ErasureIntegrationTests.client(cluster)
            let files = try await LoaderIntegrationTests.imageFolder(cluster, setup)
            t0.closeAll()
            for memory in [0, 64 << 20] {
                let (client, t) = ErasureIntegrationTests.client(cluster)
                defer { t.closeAll() }
                let dataset = try await Dataset.open("/ds/img", format: .files(extensions: ["bin"]), label: .pathComponent(-2), client: client)
                let config = LoaderConfiguration(batchSize: 4, seed: 9, concurrentReads: 3, prefetchBatches: 1, hintBatches: 2,
                                                 prefetchMemoryBytes: memory)
                let loader = try Loader(dataset: dataset, client: client, pool: try LoaderIntegrationTests.pool(cluster), configuration: config)
                defer { client.setCache(nil) }
                #expect((client.cache != nil) == (memory > 0))
                for epoch in 0..<2 {
                    for try await batch in loader.epoch(epoch) {
                        for sample in batch { #expect(Array(sample.bytes) == files[sample.key], "sample \(sample.key)") }
                    }
                }
                #expect(client.readCounters.copiedBytes == 0, "prefetch memory \(memory)")
                #expect(client.readCounters.degradedReads == 0)
                if let cache = client.cache {
                    // The second epoch came from the cache's memory, as its own buffers.
                    #expect(cache.stats.memoryHits + cache.stats.lateHits >= files.count)
                }
            }
        }
    }
}
