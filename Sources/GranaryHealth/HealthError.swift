/// Everything that can go wrong while reading drive statistics or building a failure predictor.
///
/// Each case carries enough context (file, 1-based line, header column) for an operator to
/// find the offending input without re-running anything. `description` is always one sentence.
public enum HealthError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A cell or row in a CSV file is malformed. `line` is 1-based in the file; `column` is the
    /// header name of the offending cell, or nil when the problem is not tied to one column.
    case csv(file: String, line: Int, column: String?, reason: String)
    /// The CSV header lacks a column the reader cannot do without.
    case missingColumn(file: String, column: String)
    /// There is not enough data to do what was asked (for example, no failed drives to learn from).
    case noData(String)
    /// A serialised model is unreadable or internally inconsistent.
    case badModel(String)
    /// A file could not be read or written.
    case io(path: String, reason: String)

    public var description: String {
        switch self {
        case let .csv(file, line, column?, reason):
            return "\(file), line \(line), column \(column): \(reason)."
        case let .csv(file, line, nil, reason):
            return "\(file), line \(line): \(reason)."
        case let .missingColumn(file, column):
            return "\(file), line 1: the header has no '\(column)' column, which is required."
        case let .noData(reason):
            return "Not enough data: \(reason)."
        case let .badModel(reason):
            return "Invalid failure model: \(reason)."
        case let .io(path, reason):
            return "\(path): \(reason)."
        }
    }
}
