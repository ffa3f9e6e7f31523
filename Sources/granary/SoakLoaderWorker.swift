import Foundation
import GranaryBuffers
import GranaryClient
import GranaryCore
import GranaryLoader
import GranaryTransport
import Logging

/// One training job's reader in the soak test: GranaryLoader epochs over the data set's samples
/// through a client of its own (as a separate training process would have), every sample checked
/// against its CRC32C, until told to stop — mid-epoch, as a job that is stopped does, which also
/// checks that an abandoned epoch gives all its buffers back.
struct SoakLoaderWorker {
    /// What one loader did.
    struct Outcome: Codable, Sendable {
        var epochsCompleted: Int
        var samples: Int
        /// Pool buffers still held 5 s after the loader stopped (must be 0).
        var poolInUseAfter: Int
        /// The hinted cache's memory hits over its accesses.
        var cacheHitRatio: Double?
    }

    var id: Int
    var managers: [Endpoint]
    var secret: ClusterSecret
    var root: String
    var dataset: SoakDataset
    var recorder: SoakRecorder
    var logger: Logger

    func run() async -> Outcome {
        var outcome = Outcome(epochsCompleted: 0, samples: 0, poolInUseAfter: 0, cacheHitRatio: nil)
        let transport = TCPTransport(secret: secret, logger: logger)
        defer { transport.closeAll() }
        let client = FileClient(managers: managers, transport: transport, logger: logger)
        let pool: IOBufferPool
        let loader: Loader<Sample>
        do {
            let ds = try await Dataset.open(root, format: .files(extensions: ["bin"]), label: .pathComponent(-2), client: client)
            pool = try IOBufferPool(.init(arenaBytes: 8 << 20, limitBytes: 128 << 20), registrars: client.arenaRegistrars, logger: logger)
            // A hinted cache well below the data set's size, so it keeps evicting and fetching.
            let config = LoaderConfiguration(batchSize: 16, shuffle: true, seed: UInt64(100 + id), concurrentReads: 16, prefetchBatches: 2,
                                             hintBatches: 4, prefetchMemoryBytes: 16 << 20)
            loader = try Loader(dataset: ds, client: client, pool: pool, configuration: config)
        } catch {
            recorder.error("loader \(id): setting up: \(error)")
            return outcome
        }
        var epoch = 0
        epochs: while !recorder.stopped {
            do {
                var batches = loader.epoch(epoch).makeAsyncIterator()
                while true {
                    let began = FileClient.seconds()
                    guard let batch = try await batches.next() else { break }
                    var bytes = 0
                    for s in batch {
                        guard let want = dataset.expected["samples/" + s.key] else {
                            throw SoakError.mismatch(path: s.path, detail: "sample key \(s.key) is not in the data set")
                        }
                        let crc = CRC32C.checksum(s.bytes)
                        guard s.count == want.length, crc == want.crc else {
                            throw SoakError.mismatch(path: s.path, detail: "sample of \(s.count) bytes, CRC32C \(SoakMountWorkers.hex(crc)); expected \(want.length) bytes, \(SoakMountWorkers.hex(want.crc))")
                        }
                        bytes += s.count
                    }
                    recorder.done(.loaderBatch, began: began, bytes: bytes, samples: batch.count)
                    outcome.samples += batch.count
                    if recorder.stopped { break epochs }
                }
                outcome.epochsCompleted += 1
            } catch let e as SoakError {
                recorder.error("loader \(id) epoch \(epoch): \(e)", wrongBytes: e.isWrongBytes)
                try? await Task.sleep(for: .milliseconds(100))
            } catch {
                recorder.error("loader \(id) epoch \(epoch): \(error)")
                try? await Task.sleep(for: .milliseconds(100))
            }
            epoch += 1
        }
        // The abandoned epoch's reads finish in the background; their buffers must all come back.
        let deadline = FileClient.seconds() + 5
        while pool.stats.inUseBuffers > 0, FileClient.seconds() < deadline { try? await Task.sleep(for: .milliseconds(50)) }
        outcome.poolInUseAfter = pool.stats.inUseBuffers
        if let c = client.cache?.stats, c.accesses > 0 { outcome.cacheHitRatio = Double(c.memoryHits) / Double(c.accesses) }
        if let cache = client.cache {
            await cache.close()
            client.setCache(nil)
        }
        return outcome
    }
}
