/// One drive's measurements over one reporting window, as the fail-slow detector takes them.
public struct DriveWindow: Sendable, Codable, Equatable {
    /// The drive, as `node/name`.
    public var drive: String
    public var node: String
    /// When the window ended, in seconds.
    public var time: Double
    /// How long the window was, in seconds.
    public var seconds: Double
    /// Operations completed in the window.
    public var ops: Int
    public var bytes: Int64
    public var meanLatencyMs: Double
    public var p99LatencyMs: Double
    /// Mean operations outstanding.
    public var queueDepth: Double
    /// Operations that failed with an I/O error.
    public var errors: Int

    public init(drive: String, node: String, time: Double, seconds: Double, ops: Int, bytes: Int64 = 0, meanLatencyMs: Double,
                p99LatencyMs: Double = 0, queueDepth: Double = 0, errors: Int = 0) {
        self.drive = drive
        self.node = node
        self.time = time
        self.seconds = seconds
        self.ops = ops
        self.bytes = bytes
        self.meanLatencyMs = meanLatencyMs
        self.p99LatencyMs = p99LatencyMs
        self.queueDepth = queueDepth
        self.errors = errors
    }

    public var opsPerSecond: Double { seconds > 0 ? Double(ops) / seconds : 0 }
    public var bytesPerSecond: Double { seconds > 0 ? Double(bytes) / seconds : 0 }
}
