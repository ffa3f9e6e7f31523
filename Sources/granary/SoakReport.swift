/// The result of `granary bench soak`: the last line of its output, one JSON object.
struct SoakReport: Codable, Sendable {
    /// Latency of one kind of operation over the measured time, and its first period against its
    /// last (the baseline in the same run).
    struct Latency: Codable, Sendable {
        var count: Int
        var p50Ms: Double?
        var p99Ms: Double?
        var firstPeriodP99Ms: Double?
        var lastPeriodP99Ms: Double?
        /// Last period's p99 over the first period's.
        var p99Ratio: Double?
        /// p99 of each period in order (the warm-up not included).
        var periodP99Ms: [Double?]
    }

    /// Bytes on the storage nodes' drives and in the manager's directory (metadata): the writers
    /// remove what they write, and the manager collects removed files' stripes every 10 s, so the
    /// drives' bytes must stay bounded (`SoakLeakRule.judgeSpace`).
    struct Space: Codable, Sendable {
        var driveBytesStart: Int64
        var driveBytesEnd: Int64
        /// Every 2 s of the run (warm-up included), MB.
        var driveMBEvery2s: [Double]
        var driveGrowthMiB: Double
        var driveLimitMiB: Double
        var managerBytesStart: Int64
        var managerBytesEnd: Int64
    }

    var bench = "soak"
    /// No error, no wrong byte, no leak.
    var passed: Bool
    var seconds: Double
    var warmupSeconds: Double
    var wallSeconds: Double
    var readers: Int
    var writers: Int
    var loaders: Int
    var mount: String
    var datasetFiles: Int
    var datasetBytes: Int64
    var ops: [String: Int]
    var bytesVerified: Int64
    var samplesVerified: Int
    var errors: Int
    var wrongBytes: Int
    var errorMessages: [String]
    var latency: [String: Latency]
    var latencyNote = "mountRead: a whole dataset file (4 KiB–6 MiB) read through the mount with its pages dropped; loaderBatch: the wait for the next batch of 16 samples; mountWrite: create, write 16 KiB–2 MiB, close (the commit). Percentiles are histogram bucket upper edges (≤4.4 % high)."
    var baseline = "the first period of the measured time against the last one, in the same run (p99Ratio, and rssRatio per process)"
    var processes: [SoakLeakRule.Figures]
    var leakRule = SoakLeakRule.text
    var leaks: [String]
    var loaderRuns: [SoakLoaderWorker.Outcome]
    var space: Space
    var cluster = "1 manager + 3 storage nodes × 2 directory drives, granaryd processes on loopback (as granary up), layout 4+2, garbage collection every 10 s"
}
