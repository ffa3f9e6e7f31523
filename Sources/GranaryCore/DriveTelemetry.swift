/// What a storage node measured on one drive over one reporting window (the interval between two
/// heartbeats): operations, bytes, latency, queue depth and errors, plus the drive's SMART
/// attributes when it has them.
///
/// Latencies are those the node's requests saw on the drive (faults injected for drills included),
/// in milliseconds; `queueDepth` is the mean number of operations outstanding over the window
/// (Little's law: total time in service divided by the window's length).
public struct DriveTelemetry: Codable, Sendable, Equatable {
    public var seconds: Double
    public var reads: Int
    public var writes: Int
    public var readBytes: Int64
    public var writeBytes: Int64
    public var readMeanMs: Double
    public var readP50Ms: Double
    public var readP99Ms: Double
    public var writeMeanMs: Double
    public var writeP99Ms: Double
    public var queueDepth: Double
    /// Operations that failed with an I/O error (injected ones included).
    public var errors: Int
    /// Chunks whose checksum did not match what was read.
    public var crcFailures: Int
    /// The drive's SMART attributes, when smartctl could read them.
    public var smart: SmartReading?
    /// Why there are no SMART attributes (no smartctl, a virtual disk, a directory on tmpfs).
    public var smartNote: String?

    public init(seconds: Double, reads: Int = 0, writes: Int = 0, readBytes: Int64 = 0, writeBytes: Int64 = 0,
                readMeanMs: Double = 0, readP50Ms: Double = 0, readP99Ms: Double = 0, writeMeanMs: Double = 0,
                writeP99Ms: Double = 0, queueDepth: Double = 0, errors: Int = 0, crcFailures: Int = 0,
                smart: SmartReading? = nil, smartNote: String? = nil) {
        self.seconds = seconds
        self.reads = reads
        self.writes = writes
        self.readBytes = readBytes
        self.writeBytes = writeBytes
        self.readMeanMs = readMeanMs
        self.readP50Ms = readP50Ms
        self.readP99Ms = readP99Ms
        self.writeMeanMs = writeMeanMs
        self.writeP99Ms = writeP99Ms
        self.queueDepth = queueDepth
        self.errors = errors
        self.crcFailures = crcFailures
        self.smart = smart
        self.smartNote = smartNote
    }

    public var ops: Int { reads + writes }
    public var bytes: Int64 { readBytes + writeBytes }
    /// The mean latency over reads and writes together.
    public var meanMs: Double {
        ops == 0 ? 0 : (readMeanMs * Double(reads) + writeMeanMs * Double(writes)) / Double(ops)
    }
}
