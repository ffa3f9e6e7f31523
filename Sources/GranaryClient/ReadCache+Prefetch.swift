import GranaryBuffers
import GranaryMeta
import GranaryPrefetch

extension ReadCache {
    /// The loader's announcement of its next reads: the policy learns the order, the file maps it
    /// lacks are fetched in one request, and prefetching starts at once.
    public func upcoming(_ reads: [UpcomingRead], source: String) {
        let missing: [InodeID] = state.withLock { s in
            var ids: [Int] = []
            ids.reserveCapacity(reads.count)
            var missing = Set<InodeID>()
            for r in reads where r.length > 0 {
                let id = s.keys.intern(r.key, size: Int(r.length))
                s.locators[id] = CacheLocator(inode: r.inode, offset: r.offset, length: Int(r.length), path: r.key)
                if s.maps[r.inode] == nil, !s.mapsRequested.contains(r.inode) { missing.insert(r.inode) }
                ids.append(id)
            }
            s.policy.hint(ids, job: s.keys.job(source))
            s.mapsRequested.formUnion(missing)
            return Array(missing)
        }
        if missing.isEmpty { prefetch() } else { fetchMaps(missing) }
    }

    /// The most file maps asked for in one request by the prefetcher.
    static let mapsPerRequest = 512

    /// Fetches the file maps of `missing` (already marked requested) in one request — from the
    /// loader's map cache when it shares one — then looks for prefetches again.
    func fetchMaps(_ missing: [InodeID]) {
        let source = mapSource.withLock { $0 }
        Task {
            let fetched: FileMapBatch?
            if let source { fetched = try? await source.maps(missing, client: self.client) } else {
                fetched = try? await self.client.meta.fileMaps(missing)
            }
            self.state.withLock { s in
                s.mapsRequested.subtract(missing)
                if let batch = fetched { for i in missing.indices { if let m = batch.map(i) { self.remember(m, in: &s) } } }
            }
            self.prefetch()
        }
    }

    /// Issues the fetches the policy wants now: just in time — as many in flight as cover the
    /// measured fetch time at the measured access rate (twice over, at least two, at most
    /// `prefetchConcurrency`), each one's room reserved in the memory tier first, so prefetching never
    /// holds more than the tier's budget and never evicts something the policy needs sooner.
    func prefetch() {
        guard settings.prefetchConcurrency > 0, pool != nil else { return }
        let (launch, missing): ([(Int, CacheLocator, FileMap)], [InodeID]) = state.withLock { s in
            let lead = min(settings.prefetchConcurrency, max(2, Int((2 * s.fetchSeconds / max(s.gap, 1e-6)).rounded(.up))))
            let room = lead - s.inflight.count
            guard room > 0 else { return ([], []) }
            let t0 = DispatchFreeClock.nanos()
            let candidates = s.policy.prefetchCandidates(limit: max(room * 2, 8))
            s.policyNanos += DispatchFreeClock.nanos() - t0
            var out: [(Int, CacheLocator, FileMap)] = []
            var missing = Set<InodeID>()
            for id in candidates where s.memory[id] == nil && s.inflight[id] == nil {
                guard let loc = s.locators[id] else { continue }
                guard let map = s.maps[loc.inode] else {
                    // A file known from a listing but never opened: its map first — with those of
                    // the rest of its directory (or shard), which are likely wanted next, in the
                    // same request.
                    guard !s.mapsRequested.contains(loc.inode) else { continue }
                    missing.insert(loc.inode)
                    for m in s.keys.members[s.keys[id].group] where missing.count < Self.mapsPerRequest {
                        if let other = s.locators[m]?.inode, s.maps[other] == nil, !s.mapsRequested.contains(other) { missing.insert(other) }
                    }
                    continue
                }
                if out.count < room { out.append((id, loc, map)) }
            }
            s.mapsRequested.formUnion(missing)
            return (out, Array(missing))
        }
        for (id, loc, map) in launch { startPrefetch(id, loc, map) }
        if !missing.isEmpty { fetchMaps(missing) }
    }

    private func startPrefetch(_ id: Int, _ loc: CacheLocator, _ map: FileMap) {
        guard loc.offset < map.inode.size else { return }
        var cut = loc
        cut.length = Int(min(Int64(loc.length), map.inode.size - loc.offset))
        let loc = cut
        let tag = Self.tag(map, offset: loc.offset, length: loc.length)
        // Room first: a prefetch the policy will not make room for is never issued.
        guard reserve(id, size: loc.length, reason: .prefetch) else { return }
        let issued: Bool = state.withLock { s in
            guard s.inflight[id] == nil, s.memory[id] == nil else { return false }
            s.stats.prefetchIssued += 1
            s.serial += 1
            let serial = s.serial
            let task = Task {
                let r = await self.fetch(id, loc, map, tag: tag, reason: .prefetch, serial: serial)
                self.prefetch()
                return r
            }
            s.inflight[id] = Inflight(task: task, tag: tag, prefetched: true, serial: serial)
            return true
        }
        if !issued { unreserve(loc.length) }
    }
}
