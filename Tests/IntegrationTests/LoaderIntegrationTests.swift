import Foundation
import GranaryBuffers
import GranaryClient
import GranaryCore
@testable import GranaryLoader
import GranaryMeta
import Synchronization
import Testing

/// Records the hints a loader publishes (the prefetcher that consumes them comes with the cache
/// issue; here the seam is checked for the exact order).
final class HintRecorder: ReadHintSink {
    let calls = Mutex<[[UpcomingRead]]>([])
    func upcoming(_ reads: [UpcomingRead], source: String) { calls.withLock { $0.append(reads) } }
}

extension IntegrationSuites {
    /// GranaryLoader against real processes: datasets, sharded shuffled epochs, resume, hints,
    /// errors, and the pool back to empty.
    @Suite(.serialized) struct LoaderIntegrationTests {
        static func content(_ i: Int, _ size: Int) -> [UInt8] { (0..<size).map { UInt8(truncatingIfNeeded: ($0 &* 31) ^ (i &* 7919)) } }

        /// 37 samples in three class directories (plus a hidden file and a non-sample), imported.
        static func imageFolder(_ cluster: ClusterHarness, _ client: FileClient) async throws -> [String: [UInt8]] {
            let local = cluster.dir + "/img"
            var files: [String: [UInt8]] = [:]
            for i in 0..<37 {
                let cls = ["cat", "dog", "eel"][i % 3]
                let key = "\(cls)/s\(String(format: "%03d", i)).bin"
                files[key] = content(i, 1000 + (i * 977) % 40_000)
                try FileIO.makeDirectories(local + "/" + cls)
                try FileIO.writeAtomically(local + "/" + key, files[key] ?? [])
            }
            try FileIO.writeAtomically(local + "/cat/.hidden.bin", [1, 2, 3])
            try FileIO.writeAtomically(local + "/notes.txt", Array("not a sample".utf8))
            _ = try await Importer(client: client, parallel: 2, verify: true).run(local: local, to: "/ds/img") { _ in }
            return files
        }

        static func pool(_ cluster: ClusterHarness) throws -> IOBufferPool {
            try IOBufferPool(.init(arenaBytes: 4 << 20, limitBytes: 64 << 20), logger: cluster.logger)
        }

        /// All batches of an epoch, as (key, bytes, label, padding) per sample.
        static func drain(_ loader: Loader<Sample>, epoch: Int, batches limit: Int = .max) async throws -> [Batch<Sample>] {
            var out: [Batch<Sample>] = []
            for try await batch in loader.epoch(epoch) {
                out.append(batch)
                if out.count == limit { break }
            }
            return out
        }

        @Test func imageFolderEpochsAcrossRanksResumeAndHints() async throws {
            let cluster = try ClusterHarness(nodes: 3, drives: 2, heartbeatTimeoutMs: 1500)
            defer { cluster.shutdown() }
            #expect(await cluster.waitFor(seconds: 30) { $0.nodes.count == 3 && $0.allUp } != nil)
            let (client, t) = ErasureIntegrationTests.client(cluster)
            defer { t.closeAll() }
            let files = try await Self.imageFolder(cluster, client)

            let dataset = try await Dataset.open("/ds/img", format: .files(extensions: ["bin"]), label: .pathComponent(-2), client: client)
            #expect(!dataset.indexReused && dataset.count == 37 && dataset.classes == ["cat", "dog", "eel"])
            let again = try await Dataset.open("/ds/img", format: .files(extensions: ["bin"]), label: .pathComponent(-2), client: client)
            #expect(again.indexReused && again.count == 37)
            #expect(try await client.meta.resolve("/ds/img/.granary/index-files").size > 0)

            // Two ranks, batch 4, 37 samples: one rank gets a padding repeat, both 5 batches.
            let pool = try Self.pool(cluster)
            var seen: [String] = []
            var batchCounts: [Int] = []
            for rank in 0..<2 {
                let loader = try Loader(dataset: again, client: client, pool: pool,
                                        configuration: LoaderConfiguration(batchSize: 4, seed: 11, rank: rank, worldSize: 2, concurrentReads: 5))
                let batches = try await Self.drain(loader, epoch: 0)
                batchCounts.append(batches.count)
                for s in batches.joined() {
                    #expect(Array(s.bytes) == files[s.key], "\(s.key)")
                    #expect(s.label?.name == String(s.key.prefix(3)) && s.label.map { again.classes[$0.index] } == s.label?.name)
                    #expect(s.parts.first?.ext == "bin")
                    if !s.isPadding { seen.append(s.key) }
                }
                #expect(loader.state == LoaderState(epoch: 1, position: 0, seed: 11, worldSize: 2, rank: rank, batchSize: 4, sampleCount: 37))
            }
            #expect(batchCounts == [5, 5])
            #expect(seen.sorted() == files.keys.sorted())
            #expect(pool.stats.inUseBuffers == 0, "\(pool.stats)")

            // Resume mid-epoch from a saved (encoded) state, with other concurrency: exactly the rest.
            let config = LoaderConfiguration(batchSize: 3, seed: 5, concurrentReads: 8, prefetchBatches: 2)
            let whole = try await Self.drain(try Loader(dataset: again, client: client, pool: pool, configuration: config), epoch: 1).map { $0.map(\.key) }
            let first = try Loader(dataset: again, client: client, pool: pool, configuration: config)
            _ = try await Self.drain(first, epoch: 0)
            let head = try await Self.drain(first, epoch: 1, batches: 4).map { $0.map(\.key) }
            let saved = try JSONEncoder().encode(first.state)
            let state = try JSONDecoder().decode(LoaderState.self, from: saved)
            #expect(state.epoch == 1 && state.position == 4)
            var other = config
            other.concurrentReads = 1
            other.prefetchBatches = 0
            let resumed = try Loader(dataset: again, client: client, pool: pool, configuration: other, resumingFrom: state)
            let tail = try await Self.drain(resumed, epoch: 1).map { $0.map(\.key) }
            #expect(head + tail == whole)
            #expect(Set(whole.joined()).count == 37 && whole.count == 13)
            // The next epoch follows, as in an uninterrupted run.
            #expect(resumed.state.epoch == 2 && resumed.state.position == 0)
            var wrong = config
            wrong.seed = 6
            #expect(throws: LoaderError.self) { try Loader(dataset: again, client: client, pool: pool, configuration: wrong, resumingFrom: state) }

            // Hints: the exact upcoming order, from the batch about to be read.
            let recorder = HintRecorder()
            client.setHintSink(recorder)
            let hinted = try Loader(dataset: again, client: client, pool: pool, configuration: LoaderConfiguration(batchSize: 4, seed: 3, hintBatches: 2))
            let plan = hinted.plan(epoch: 0)
            _ = try await Self.drain(hinted, epoch: 0)
            client.setHintSink(nil)
            let calls = recorder.calls.withLock { $0 }
            #expect(calls.count == plan.batchCount)
            #expect(calls.first?.map(\.key) == plan.samples[0..<20].map { again.cacheKey(again.index.entry($0)) })
            #expect(calls.dropFirst().first?.map(\.key) == plan.samples[4..<24].map { again.cacheKey(again.index.entry($0)) })
            #expect(calls.first?.first.map { $0.length } == Int64(files[again.index.entry(plan.samples[0]).key]?.count ?? -1))
            #expect(pool.stats.inUseBuffers == 0, "\(pool.stats)")

            // A new file makes the stored index stale: it is rebuilt.
            try await client.writeFile("/ds/img/dog/new.bin", bytes: [7, 7, 7])
            let grown = try await Dataset.open("/ds/img", format: .files(extensions: ["bin"]), label: .pathComponent(-2), client: client)
            #expect(!grown.indexReused && grown.count == 38)

            // A sample deleted behind the index's back: the batch fails naming it, or it is skipped.
            let victim = try await client.meta.resolve("/ds/img")
            let cat = try #require(try await client.meta.lookup(victim.id, "cat"))
            try await client.meta.unlink(cat.id, "s000.bin")
            do {
                _ = try await Self.drain(try Loader(dataset: grown, client: client, pool: pool, configuration: LoaderConfiguration(batchSize: 8)), epoch: 0)
                Issue.record("reading a deleted sample did not fail")
            } catch {
                guard case let .sampleFailed(_, key, cause)? = error as? LoaderError else { Issue.record("wrong error: \(error)"); return }
                #expect(key == "cat/s000.bin" && cause.contains("no longer exists"), "\(cause)")
            }
            let skipping = try Loader(dataset: grown, client: client, pool: pool, configuration: LoaderConfiguration(batchSize: 8, onError: .skip))
            do {
                let kept = try await Self.drain(skipping, epoch: 0)
                #expect(kept.joined().count == 37 && skipping.skippedSamples == 1)
                #expect(kept.flatMap(\.skipped).map(\.key) == ["cat/s000.bin"])
                // Held by `kept` and given back when it goes — the loader's buffers, or the
                // cache's own for samples its memory served (no copy).
                #expect(pool.stats.inUseBuffers <= 37)
            }
            #expect(pool.stats.inUseBuffers == 0, "\(pool.stats)")

            // The metadata cache answers from memory within its time and asks again after
            // `invalidate` (what a failed read through a cached map does) or with no time at all.
            let dogDir = try #require(try await client.meta.lookup(victim.id, "dog"))
            let a = try #require(try await client.meta.lookup(dogDir.id, "s001.bin")), b = try #require(try await client.meta.lookup(dogDir.id, "s004.bin"))
            let cache = FileMapCache(ttl: 600, capacity: 10)
            #expect(try await cache.maps([a.id, b.id], client: client).files.allSatisfy { $0 != nil } && cache.count == 2)
            try await client.meta.unlink(dogDir.id, "s004.bin")
            #expect(try await cache.maps([a.id, b.id], client: client).map(1)?.inode.id == b.id)
            #expect(try await FileMapCache(ttl: 0, capacity: 10).maps([a.id, b.id], client: client).map(1) == nil)
            cache.invalidate(b.id)
            #expect(try await cache.maps([b.id, a.id], client: client).files.map { $0 != nil } == [false, true])

            // Configuration errors name the field; a pool too small for the read-ahead is refused.
            #expect(throws: LoaderError.self) {
                try Loader(dataset: grown, client: client, pool: pool, configuration: LoaderConfiguration(rank: 2, worldSize: 2))
            }
            let tiny = try IOBufferPool(.init(arenaBytes: 1 << 20, limitBytes: 1 << 20), logger: cluster.logger)
            #expect(throws: LoaderError.self) {
                try Loader(dataset: grown, client: client, pool: tiny, configuration: LoaderConfiguration(batchSize: 64, prefetchBatches: 4))
            }
        }

        @Test func webDatasetShardsWithMemberLabelsAndAMalformedShard() async throws {
            let cluster = try ClusterHarness(nodes: 3, drives: 2, heartbeatTimeoutMs: 1500)
            defer { cluster.shutdown() }
            #expect(await cluster.waitFor(seconds: 30) { $0.nodes.count == 3 && $0.allUp } != nil)
            let (client, t) = ErasureIntegrationTests.client(cluster)
            defer { t.closeAll() }
            var expected: [String: (jpg: [UInt8], cls: Int)] = [:]
            try FileIO.makeDirectories(cluster.dir + "/wds/train")
            for s in 0..<3 {
                var tar = TarWriter()
                for j in 0..<20 {
                    let key = "shard\(s)/sample\(String(format: "%04d", j))"
                    let jpg = Self.content(s * 100 + j, 500 + j * 333)
                    try tar.append(name: key + ".jpg", bytes: jpg)
                    try tar.append(name: key + ".cls", bytes: Array("\(j % 4)\n".utf8))
                    expected[key] = (jpg, j % 4)
                }
                try FileIO.writeAtomically(cluster.dir + "/wds/train/shard-\(s).tar", tar.finish())
            }
            _ = try await Importer(client: client, parallel: 2, verify: true).run(local: cluster.dir + "/wds", to: "/wds") { _ in }

            let dataset = try await Dataset.open("/wds/train", format: .tarShards, label: .member("cls"), client: client)
            #expect(dataset.count == 60 && dataset.index.shardCount == 3)
            let pool = try Self.pool(cluster)
            let loader = try Loader(dataset: dataset, client: client, pool: pool, configuration: LoaderConfiguration(batchSize: 7, seed: 1))
            var keys: [String] = []
            for batch in try await Self.drain(loader, epoch: 0) {
                for s in batch {
                    let want = try #require(expected[s.key])
                    #expect(s.part("jpg").map(Array.init) == want.jpg, "\(s.key)")
                    #expect(s.label == Label(index: want.cls, name: "\(want.cls)"))
                    #expect(s.path.hasPrefix("/wds/train/shard-") && s.parts.map(\.ext) == ["jpg", "cls"])
                    keys.append(s.key)
                }
            }
            #expect(keys.sorted() == expected.keys.sorted())
            #expect(pool.stats.inUseBuffers == 0)
            #expect(try await Dataset.open("/wds/train", format: .tarShards, label: .member("cls"), client: client).indexReused)

            // A shard whose third member header is damaged: the error names the shard and offset.
            var tar = TarWriter()
            for j in 0..<4 { try tar.append(name: "k\(j).txt", bytes: Array(repeating: UInt8(j), count: 100)) }
            var bad = tar.finish()
            bad[2 * 1024 + 148] ^= 0x01  // the 3rd header's checksum field
            try FileIO.makeDirectories(cluster.dir + "/broken/train")
            try FileIO.writeAtomically(cluster.dir + "/broken/train/bad.tar", bad)
            _ = try await Importer(client: client, parallel: 2, verify: true).run(local: cluster.dir + "/broken", to: "/broken") { _ in }
            do {
                _ = try await Dataset.open("/broken/train", format: .tarShards, client: client)
                Issue.record("a malformed shard was indexed")
            } catch {
                guard case let .shard(e) = error else { Issue.record("wrong error: \(error)"); return }
                #expect(e.description.contains("/broken/train/bad.tar") && e.description.contains("2048"), "\(e)")
            }
        }
    }
}
