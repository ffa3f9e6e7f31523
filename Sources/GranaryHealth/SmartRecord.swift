/// One drive on one day, as in a row of the Backblaze drive-stats CSV, plus the two performance
/// columns Granary adds.
///
/// `day` and `date` always agree: the initialiser derives the string from the day number, and
/// the CSV reader derives the day number from the string it validated.
public struct SmartRecord: Sendable, Codable, Equatable, Hashable {
    /// Calendar date, `YYYY-MM-DD`.
    public var date: String { SmartCalendar.string(forDay: day) }
    /// Days since 1970-01-01.
    public var day: Int
    public var serial: String
    public var model: String
    /// Drive capacity as reported; nil when the cell is empty.
    public var capacityBytes: Int64?
    /// True only on the drive's last day, when it failed.
    public var failure: Bool
    /// Raw SMART values keyed by attribute number (5 = reallocated sectors, ...). A key is absent
    /// when the cell was empty.
    public var attributes: [Int: Double]
    /// Normalised SMART values (vendor scale, usually 100 = best) keyed by attribute number.
    public var normalized: [Int: Double]
    /// Granary's fail-slow score for the drive that day: recent latency over the drive's normal
    /// latency, so 1 means normal. Column `granary_latency_ratio`.
    public var latencyRatio: Double?
    /// I/O errors Granary observed on the drive that day. Column `granary_io_errors`.
    public var ioErrors: Double?

    public init(
        day: Int,
        serial: String,
        model: String,
        capacityBytes: Int64? = nil,
        failure: Bool = false,
        attributes: [Int: Double] = [:],
        normalized: [Int: Double] = [:],
        latencyRatio: Double? = nil,
        ioErrors: Double? = nil
    ) {
        self.day = day
        self.serial = serial
        self.model = model
        self.capacityBytes = capacityBytes
        self.failure = failure
        self.attributes = attributes
        self.normalized = normalized
        self.latencyRatio = latencyRatio
        self.ioErrors = ioErrors
    }

    /// True when the record carries any SMART value at all.
    public var hasSmart: Bool { !attributes.isEmpty || !normalized.isEmpty }
    /// True when the record carries a Granary performance column.
    public var hasPerformance: Bool { latencyRatio != nil || ioErrors != nil }

    /// The day number for a `YYYY-MM-DD` string, or nil when it is not a real date.
    public static func day(fromDate text: String) -> Int? {
        var text = text
        return text.withUTF8 { CSVReader.parseDate($0) }
    }
}
