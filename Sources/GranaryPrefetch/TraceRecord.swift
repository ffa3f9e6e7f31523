/// One access in a trace: the unit of the JSON-lines trace format, of `AccessRing` and of the
/// trace generator.
///
/// The file format is one flat JSON object per line, in access order:
/// `{"t": 1.25, "job": "rank0", "key": "train/cls3/img_0001.jpg", "size": 102400}` with optional
/// `"offset"` (only written when non-zero) and `"write": true` (only written for writes).
/// `t` is the time in seconds at which a never-stalled application would issue the access; it
/// never decreases within a file (`TraceReader` enforces this).
public struct TraceRecord: Sendable, Hashable, Codable {
    /// Seconds since the trace started.
    public var t: Double
    /// The job (process, data loader, rank) that made the access.
    public var job: String
    /// The item: a path, or `stream#N` for block N of a large file.
    public var key: String
    /// Bytes read or written.
    public var size: Int
    /// Byte offset within the file; kept for replay tools, ignored by the policies.
    public var offset: Int64
    /// A write (checkpoint, new file) rather than a read.
    public var isWrite: Bool

    public init(t: Double, job: String, key: String, size: Int, offset: Int64 = 0, isWrite: Bool = false) {
        self.t = t
        self.job = job
        self.key = key
        self.size = size
        self.offset = offset
        self.isWrite = isWrite
    }

    enum CodingKeys: String, CodingKey {
        case t, job, key, size, offset
        case isWrite = "write"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        t = try c.decode(Double.self, forKey: .t)
        // Launchers often number ranks, so an integer job is accepted and kept as its decimal text.
        if let name = try? c.decode(String.self, forKey: .job) {
            job = name
        } else {
            job = String(try c.decode(Int.self, forKey: .job))
        }
        key = try c.decode(String.self, forKey: .key)
        size = try c.decode(Int.self, forKey: .size)
        offset = try c.decodeIfPresent(Int64.self, forKey: .offset) ?? 0
        isWrite = try c.decodeIfPresent(Bool.self, forKey: .isWrite) ?? false
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(t, forKey: .t)
        try c.encode(job, forKey: .job)
        try c.encode(key, forKey: .key)
        try c.encode(size, forKey: .size)
        if offset != 0 { try c.encode(offset, forKey: .offset) }
        if isWrite { try c.encode(true, forKey: .isWrite) }
    }
}
