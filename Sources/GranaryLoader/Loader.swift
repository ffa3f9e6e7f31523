import GranaryBuffers
import GranaryClient
import GranaryCore
import GranaryMeta
import Logging
import Synchronization

/// Streams a dataset's samples as batches, epoch by epoch: seeded shuffle, rank sharding, reads
/// `concurrentReads` at a time into pooled buffers, `prefetchBatches` ahead of the caller, an
/// optional transform run concurrently on each sample, and the upcoming order published to the
/// client's prefetcher.
///
/// Guarantees: batches arrive in plan order (`EpochPlan`) whatever order reads finish in; a sample
/// that cannot be read fails its batch with `LoaderError.sampleFailed` naming it (or, under the
/// skip policy, is left out and counted); `state` after each delivered batch resumes exactly
/// after it; memory is bounded by the pool (reads wait for buffers rather than grow), and every
/// buffer goes back to the pool when the batches holding it are dropped.
public final class Loader<Element: Sendable>: Sendable {
    public let dataset: Dataset
    public let client: FileClient
    public let pool: IOBufferPool
    public let configuration: LoaderConfiguration
    let transform: @Sendable (Sample) async throws -> Element
    private let current: Mutex<LoaderState>
    private let skippedTotal = Mutex(0)
    private let shardMaps = Mutex<[Int: FileMap]>([:])
    private let fileMaps: FileMapCache
    /// Names this loader in the hints it publishes.
    let source: String

    /// A loader over `dataset`, starting at epoch 0 or where `saved` left off. `transform` runs on
    /// each sample as soon as it is read, `concurrentReads` at a time.
    public init(dataset: Dataset, client: FileClient, pool: IOBufferPool, configuration: LoaderConfiguration,
                resumingFrom saved: LoaderState? = nil,
                transform: @escaping @Sendable (Sample) async throws -> Element) throws(LoaderError) {
        try configuration.validate()
        let fresh = LoaderState(epoch: 0, position: 0, seed: configuration.seed, worldSize: configuration.worldSize,
                                rank: configuration.rank, batchSize: configuration.batchSize, sampleCount: dataset.count)
        if let saved {
            for (field, a, b) in [("seed", "\(saved.seed)", "\(fresh.seed)"), ("worldSize", "\(saved.worldSize)", "\(fresh.worldSize)"),
                                  ("rank", "\(saved.rank)", "\(fresh.rank)"), ("batchSize", "\(saved.batchSize)", "\(fresh.batchSize)"),
                                  ("sampleCount", "\(saved.sampleCount)", "\(fresh.sampleCount)")] where a != b {
                throw .stateMismatch(field: field, saved: a, current: b)
            }
            guard saved.epoch >= 0, saved.position >= 0 else {
                throw .stateMismatch(field: "epoch/position", saved: "\(saved.epoch)/\(saved.position)", current: "non-negative values")
            }
        }
        // Reads ahead hold buffers: the window (prefetch + the batch being read), the batch
        // waiting in the hand-off, and the caller's current batch.
        var largest: Int64 = 0
        for i in 0..<dataset.count { largest = max(largest, dataset.index.length(i)) }
        guard largest <= Int64(pool.configuration.arenaBytes) else {
            throw .poolTooSmall(needed: Int(largest), limit: pool.configuration.arenaBytes, reason: "the largest sample (\(largest) bytes) in one buffer")
        }
        let perBuffer = pool.sizeClass(for: Int(largest))
        let buffers = (configuration.prefetchBatches + 3) * configuration.batchSize
        let perArena = max(1, pool.configuration.arenaBytes / perBuffer)
        let arenas = (buffers + perArena - 1) / perArena
        let needed = arenas * pool.configuration.arenaBytes
        guard needed <= pool.configuration.limitBytes else {
            throw .poolTooSmall(needed: needed, limit: pool.configuration.limitBytes,
                                reason: "\(configuration.prefetchBatches + 3) batches of \(configuration.batchSize) samples of up to \(largest) bytes")
        }
        if configuration.prefetchMemoryBytes > 0, client.cache == nil, !client.hasHintSink {
            var settings = CacheSettings()
            settings.policy = .hinted
            settings.memoryBytes = configuration.prefetchMemoryBytes
            settings.directory = nil
            settings.lockMemory = pool.configuration.lockMemory
            // Fetching ahead must be at least as wide as the loader's own reads, or the reads end
            // up waiting on a narrower pipe of prefetches.
            settings.prefetchConcurrency = max(settings.prefetchConcurrency, configuration.concurrentReads)
            do {
                client.setCache(try ReadCache(client: client, settings: settings, namespace: "loader", logger: Logger(label: "granary.loader.cache")))
            } catch { throw .client(error) }
        }
        self.dataset = dataset
        self.client = client
        self.pool = pool
        self.configuration = configuration
        self.transform = transform
        current = Mutex(saved ?? fresh)
        fileMaps = FileMapCache(ttl: configuration.metadataCacheSeconds, capacity: configuration.metadataCacheEntries)
        if configuration.metadataCacheSeconds > 0 { client.cache?.shareMaps(fileMaps) }
        if let cache = client.cache, cache.policyName != "hinted" {
            // A policy that learns (rather than follows hints) is told the dataset's samples up
            // front, as a mount's directory listing tells it a folder's files: it can then fetch
            // the ones an epoch has not read yet before they are asked for.
            cache.register((0..<dataset.count).map { i in
                let e = dataset.index.entry(i)
                switch dataset.format {
                case .files: return (key: dataset.cacheKey(e), inode: InodeID(e.ref), offset: 0, length: Int(e.length), path: dataset.filePath(e))
                case .tarShards:
                    return (key: dataset.cacheKey(e), inode: dataset.index.shard(Int(e.ref)).inode, offset: e.offset, length: Int(e.length),
                            path: dataset.filePath(e))
                }
            })
        }
        source = "loader \(dataset.root) rank \(configuration.rank)/\(configuration.worldSize)"
    }

    /// Where the loader stands: the epoch and the batches of it delivered so far.
    public var state: LoaderState { current.withLock { $0 } }

    /// Samples left out under the skip policy since the loader was made.
    public var skippedSamples: Int { skippedTotal.withLock { $0 } }

    /// This rank's plan for `epoch`.
    public func plan(epoch: Int) -> EpochPlan {
        EpochPlan(sampleCount: dataset.count, epoch: epoch, batchSize: configuration.batchSize, dropLast: configuration.dropLast,
                  shuffle: configuration.shuffle, seed: configuration.seed, rank: configuration.rank, worldSize: configuration.worldSize)
    }

    /// The batches of `epoch`: from the saved position when `epoch` is the state's epoch, from
    /// the start otherwise.
    public func epoch(_ epoch: Int) -> EpochBatches<Element> {
        let s = state
        return EpochBatches(loader: self, epoch: epoch, startBatch: s.epoch == epoch ? s.position : 0)
    }

    /// Records that batch `index` of `epoch` was handed to the caller (`nil`: the epoch ended).
    func delivered(epoch: Int, batch index: Int?) {
        current.withLock { s in
            if let index {
                s.epoch = epoch
                s.position = index + 1
            } else if s.epoch == epoch {
                s.epoch = epoch + 1
                s.position = 0
            }
        }
    }

    // MARK: Producing an epoch

    /// What reading one sample came to.
    enum Outcome: Sendable {
        case element(Element)
        case failed(index: Int, key: String, cause: String)
    }

    /// Reads the plan's batches from `startBatch` on into `channel`, in order, until the end, a
    /// failed batch (fail policy) or the consumer going away.
    func produce(_ plan: EpochPlan, from startBatch: Int, into channel: BatchChannel<Batch<Element>>) async {
        let total = plan.batchCount, b = plan.batchSize, cfg = configuration
        guard startBatch < total else { return channel.close(.success(())) }
        let perFile: Bool
        if case .files = dataset.format { perFile = true } else { perFile = false }
        var maps: [Int: Task<FileMapBatch, any Error>] = [:]
        func mapsOf(_ batch: Int) -> Task<FileMapBatch, any Error> {
            if let t = maps[batch] { return t }
            let ids = plan.batchRange(batch).map { InodeID(dataset.index.entry(plan.samples[$0]).ref) }
            let client = self.client, cache = self.fileMaps
            let t = Task { () async throws -> FileMapBatch in try await cache.maps(ids, client: client) }
            maps[batch] = t
            return t
        }
        defer { maps.values.forEach { $0.cancel() } }
        await withTaskGroup(of: (Int, Outcome).self) { group in
            var next = plan.batchRange(startBatch).lowerBound, emit = startBatch, inFlight = 0
            var done: [Int: Outcome] = [:]
            hint(plan, from: emit)
            while emit < total {
                while inFlight < cfg.concurrentReads, next < plan.samples.count, next / b <= emit + cfg.prefetchBatches {
                    let pos = next
                    let batchMaps = perFile ? mapsOf(pos / b) : nil
                    group.addTask { (pos, await self.load(plan, position: pos, maps: batchMaps)) }
                    next += 1
                    inFlight += 1
                }
                guard let (pos, outcome) = await group.next() else { break }
                inFlight -= 1
                done[pos] = outcome
                while emit < total, plan.batchRange(emit).allSatisfy({ done[$0] != nil }) {
                    var elements: [Element] = [], skipped: [SkippedSample] = []
                    for p in plan.batchRange(emit) {
                        switch done.removeValue(forKey: p) {
                        case let .element(e)?: elements.append(e)
                        case let .failed(index, key, cause)?:
                            guard cfg.onError == .skip else {
                                group.cancelAll()
                                return channel.close(.failure(.sampleFailed(index: index, key: key, cause: cause)))
                            }
                            skipped.append(SkippedSample(index: index, key: key, cause: cause))
                        case nil: break
                        }
                    }
                    if !skipped.isEmpty { skippedTotal.withLock { $0 += skipped.count } }
                    maps[emit] = nil
                    guard await channel.send(Batch(epoch: plan.epoch, index: emit, elements: elements, skipped: skipped)) else {
                        group.cancelAll()
                        return
                    }
                    emit += 1
                    hint(plan, from: emit)
                }
            }
            channel.close(.success(()))
        }
    }

    /// Publishes the reads of the batches the loader is reading (`from` and the `prefetchBatches`
    /// after it) and of `hintBatches` more beyond them to the client's prefetcher, so it can fetch
    /// further ahead than the loader's own reads.
    func hint(_ plan: EpochPlan, from batch: Int) {
        guard configuration.hintBatches > 0, batch < plan.batchCount, client.hasHintSink else { return }
        let lo = plan.batchRange(batch).lowerBound
        let span = configuration.prefetchBatches + 1 + configuration.hintBatches
        let hi = plan.batchRange(min(plan.batchCount, batch + span) - 1).upperBound
        var reads: [UpcomingRead] = []
        reads.reserveCapacity(hi - lo)
        for pos in lo..<hi {
            let e = dataset.index.entry(plan.samples[pos])
            switch dataset.format {
            case .files: reads.append(UpcomingRead(inode: InodeID(e.ref), offset: 0, length: e.length, key: dataset.cacheKey(e)))
            case .tarShards:
                reads.append(UpcomingRead(inode: dataset.index.shard(Int(e.ref)).inode, offset: e.offset, length: e.length,
                                          key: dataset.cacheKey(e)))
            }
        }
        client.hint(reads, source: source)
    }

    /// Reads the sample at `position` of the plan into a pooled buffer and transforms it.
    func load(_ plan: EpochPlan, position: Int, maps: Task<FileMapBatch, any Error>?) async -> Outcome {
        let index = plan.samples[position]
        let entry = dataset.index.entry(index)
        do {
            let sample = try await read(entry, index: index, padding: plan.paddingPositions.contains(position),
                                        slot: position - plan.batchRange(position / plan.batchSize).lowerBound, maps: maps)
            return .element(try await transform(sample))
        } catch let e as LoaderError {
            if case let .sampleFailed(_, _, cause) = e { return .failed(index: index, key: entry.key, cause: cause) }
            return .failed(index: index, key: entry.key, cause: e.description)
        } catch {
            return .failed(index: index, key: entry.key, cause: "transform: \(error)")
        }
    }

    func read(_ entry: DatasetIndex.Entry, index: Int, padding: Bool, slot: Int,
              maps: Task<FileMapBatch, any Error>?) async throws(LoaderError) -> Sample {
        let path = dataset.filePath(entry)
        func failed(_ cause: String) -> LoaderError { .sampleFailed(index: index, key: entry.key, cause: cause) }
        let map: FileMap
        let offset: Int64
        if let maps {
            let batch: FileMapBatch
            do { batch = try await maps.value } catch { throw failed("file map of \(path): \(error)") }
            guard let m = batch.map(slot) else { throw failed("\(path) no longer exists (deleted since the dataset index was built)") }
            map = m
            offset = 0
        } else {
            map = try await shardMap(Int(entry.ref), path: path, index: index, key: entry.key)
            offset = entry.offset
        }
        let length = maps == nil ? entry.length : map.inode.size
        let taken: IOBuffer
        do { taken = try await pool.take(Int(length)) } catch { throw .buffers(error) }
        let key = dataset.cacheKey(entry)
        // Through the client's cache, a sample already in its memory comes as the cache's own
        // buffer (no copy); otherwise it is read straight into the buffer just taken.
        func readOnce(_ m: FileMap) async throws(ClientError) -> (IOBuffer, Int) {
            if let cache = client.cache {
                let b = try await cache.acquire(m, path: path, key: key, job: source, offset: offset, length: Int(length), fallback: taken)
                return (b, b === taken ? Int(min(length, max(0, m.inode.size - offset))) : b.count)
            }
            return (taken, try await client.read(m, path: path, offset: offset, into: taken.bytes))
        }
        var buffer: IOBuffer
        var n: Int
        do { (buffer, n) = try await readOnce(map) } catch {
            // A map from the cache may be out of date (the file rewritten, a stripe moved and its
            // old fragments collected): ask for the current one and read once more.
            guard maps != nil, fileMaps.ttl > 0 else { throw failed(error.description) }
            fileMaps.invalidate(map.inode.id)
            let current: FileMap?
            do { current = try await fileMaps.maps([map.inode.id], client: client).map(0) } catch { throw failed(error.description) }
            guard let fresh = current else { throw failed("\(path) no longer exists (deleted since the dataset index was built)") }
            guard fresh.inode.size == map.inode.size else { throw failed("\(path) changed size while being read; read it again") }
            do { (buffer, n) = try await readOnce(fresh) } catch { throw failed(error.description) }
        }
        guard n == Int(length) else { throw failed("\(path): read \(n) of \(length) bytes at offset \(offset) (the file is shorter)") }
        let parts: [Sample.Part]
        if maps == nil {
            parts = entry.parts.map { Sample.Part(ext: $0.ext, range: $0.offset..<($0.offset + $0.size)) }
        } else {
            parts = [Sample.Part(ext: DatasetBuilder.fileExtension(entry.key), range: 0..<n)]
        }
        var sample = Sample(index: index, key: entry.key, path: path, label: nil, isPadding: padding, buffer: buffer, parts: parts)
        sample.label = label(entry, sample)
        return sample
    }

    /// The sample's label under the dataset's rule.
    func label(_ entry: DatasetIndex.Entry, _ sample: Sample) -> Label? {
        switch dataset.labelRule {
        case .none: return nil
        case .pathComponent:
            guard entry.label >= 0, Int(entry.label) < dataset.classes.count else { return nil }
            return Label(index: Int(entry.label), name: dataset.classes[Int(entry.label)])
        case let .member(ext):
            guard let bytes = sample.part(ext) else { return nil }
            let text = String(String(decoding: bytes, as: UTF8.self).drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
            return Label(index: Int(text) ?? -1, name: text)
        }
    }

    /// Shard `number`'s file map, fetched once per loader; a shard that changed since the index
    /// was built is refused (its offsets would name other bytes).
    func shardMap(_ number: Int, path: String, index: Int, key: String) async throws(LoaderError) -> FileMap {
        if let m = shardMaps.withLock({ $0[number] }) { return m }
        let shard = dataset.index.shard(number)
        let map: FileMap
        do { map = try await client.meta.fileMap(shard.inode) } catch {
            throw .sampleFailed(index: index, key: key, cause: "shard \(path): \(error)")
        }
        guard map.inode.size == shard.size, map.inode.mtime == shard.mtime else {
            throw .sampleFailed(index: index, key: key, cause: "shard \(path) changed since the dataset index was built; open the dataset again")
        }
        shardMaps.withLock { $0[number] = map }
        return map
    }
}

extension Loader where Element == Sample {
    /// A loader that delivers the samples themselves.
    public convenience init(dataset: Dataset, client: FileClient, pool: IOBufferPool, configuration: LoaderConfiguration,
                            resumingFrom saved: LoaderState? = nil) throws(LoaderError) {
        try self.init(dataset: dataset, client: client, pool: pool, configuration: configuration, resumingFrom: saved) { $0 }
    }
}
