import GranaryBuffers
import Metrics
import Synchronization

/// Publishes a client's figures (a mount's or a loader's) as metrics once a second: its cache's
/// hits by tier, misses and hit ratio, prefetches by outcome and their accuracy, reads decoded from
/// parity or around a suspect drive, failed fragment reads, bytes copied after landing, and its
/// buffer pool's use. Recorded through swift-metrics, so nothing is exported unless the process
/// installed a backend (`GranaryMetrics`).
///
/// Guarantees: counters only grow — each refresh adds what the client's cumulative figures gained
/// since the last one (a cache replaced by a fresh one, whose figures restart, adds nothing until
/// it passes the old ones) — and gauges hold the latest value.
public final class ClientMetrics: Sendable {
    let client: FileClient
    let pool: IOBufferPool?
    private let last = Mutex<[String: Int]>([:])

    public init(client: FileClient, pool: IOBufferPool? = nil) {
        self.client = client
        self.pool = pool
    }

    /// Refreshes every `seconds` until the task is cancelled.
    public func start(seconds: Double = 1) -> Task<Void, Never> {
        Task { [self] in
            while !Task.isCancelled {
                refresh()
                try? await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
            }
        }
    }

    /// Adds to counter `label{dimensions}` what `total` gained since the last refresh.
    private func count(_ label: String, _ total: Int, _ dimensions: [(String, String)] = []) {
        let key = label + dimensions.map { "|\($0.0)=\($0.1)" }.joined()
        let delta = last.withLock { l -> Int in
            let previous = l[key] ?? 0
            l[key] = max(previous, total)
            return total - previous
        }
        if delta > 0 { Counter(label: label, dimensions: dimensions).increment(by: delta) }
    }

    public func refresh() {
        let reads = client.readCounters
        count("granary_client_degraded_reads_total", reads.degradedReads)
        count("granary_client_avoided_reads_total", reads.avoidedReads)
        count("granary_client_fragment_read_failures_total", reads.fragmentFailures.count)
        count("granary_client_copied_bytes_total", reads.copiedBytes)
        let wire = client.storage.transport.readCounters
        count("granary_transport_read_bytes_total", wire.directBytes, [("path", "direct")])
        count("granary_transport_read_bytes_total", wire.copiedBytes, [("path", "copied")])
        if let s = client.cache?.stats {
            count("granary_cache_requests_total", s.memoryHits, [("result", "memory_hit")])
            count("granary_cache_requests_total", s.diskHits, [("result", "disk_hit")])
            count("granary_cache_requests_total", s.lateHits, [("result", "late_hit")])
            count("granary_cache_requests_total", s.misses, [("result", "miss")])
            count("granary_prefetch_total", s.prefetchIssued, [("outcome", "issued")])
            count("granary_prefetch_total", s.prefetchUsed, [("outcome", "used")])
            count("granary_prefetch_total", s.prefetchWasted, [("outcome", "wasted")])
            count("granary_prefetch_total", s.prefetchFailed, [("outcome", "failed")])
            count("granary_cache_fetched_bytes_total", s.demandBytes, [("kind", "demand")])
            count("granary_cache_fetched_bytes_total", s.prefetchBytes, [("kind", "prefetch")])
            Gauge(label: "granary_cache_hit_ratio").record(s.hitRatio)
            Gauge(label: "granary_prefetch_accuracy").record(s.prefetchAccuracy)
            Gauge(label: "granary_cache_bytes", dimensions: [("tier", "memory")]).record(s.memoryBytes)
            Gauge(label: "granary_cache_bytes", dimensions: [("tier", "disk")]).record(s.diskBytes)
            Gauge(label: "granary_cache_capacity_bytes", dimensions: [("tier", "memory")]).record(s.memoryCapacity)
        }
        if let p = pool?.stats {
            Gauge(label: "granary_pool_bytes", dimensions: [("state", "in_use")]).record(p.inUseBytes)
            Gauge(label: "granary_pool_bytes", dimensions: [("state", "mapped")]).record(p.mappedBytes)
            Gauge(label: "granary_pool_bytes", dimensions: [("state", "locked")]).record(p.lockedBytes)
            Gauge(label: "granary_pool_bytes", dimensions: [("state", "registered")]).record(p.registeredBytes.values.reduce(0, +))
            Gauge(label: "granary_pool_buffers", dimensions: [("state", "in_use")]).record(p.inUseBuffers)
            Gauge(label: "granary_pool_buffers", dimensions: [("state", "free")]).record(p.freeBuffers)
            count("granary_pool_waits_total", p.waits)
        }
    }
}
