import Foundation

/// Reads and writes drive statistics in the Backblaze drive-stats CSV format.
///
/// Required columns: `date`, `serial_number`, `model`, `failure`. Recognised optional columns:
/// `capacity_bytes`, `smart_N_raw`, `smart_N_normalized`, `granary_latency_ratio`,
/// `granary_io_errors`; any other column is ignored, so newer Backblaze files (datacenter, pod,
/// ...) read unchanged. Empty cells are missing values. Quoted fields follow RFC 4180.
///
/// Guarantees: every malformed row is reported as `HealthError.csv` with the 1-based line and the
/// header name of the offending column; nothing is silently skipped except blank lines.
/// `parse(render(records)) == records` for records whose strings are valid UTF-8.
public enum BackblazeCSV {
    /// Parses CSV text. `file` is only used to name the source in errors.
    public static func parse(_ text: String, file: String = "<text>") throws(HealthError) -> [SmartRecord] {
        var text = text
        // Working on the contiguous UTF-8 bytes keeps a 100 MB file to a single pass without
        // per-character String work.
        let result = text.withUTF8 { bytes in
            var reader = CSVReader(bytes: bytes, file: file)
            return reader.readAll()
        }
        return try result.get()
    }

    /// Reads and parses a CSV file.
    public static func load(path: String) throws(HealthError) -> [SmartRecord] {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path), options: .mappedIfSafe)
        } catch {
            throw .io(path: path, reason: "cannot read the file (\(error.localizedDescription))")
        }
        let result = data.withUnsafeBytes { raw in
            var reader = CSVReader(bytes: raw.bindMemory(to: UInt8.self), file: path)
            return reader.readAll()
        }
        return try result.get()
    }

    /// Writes `render(records)` to a file.
    public static func write(_ records: [SmartRecord], path: String) throws(HealthError) {
        do {
            try Data(render(records).utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw .io(path: path, reason: "cannot write the file (\(error.localizedDescription))")
        }
    }

    /// Renders records in Backblaze column order: date, serial_number, model, capacity_bytes,
    /// failure, then `smart_N_normalized, smart_N_raw` for every attribute present in any record
    /// (ascending N), then the Granary performance columns if any record has them.
    public static func render(_ records: [SmartRecord]) -> String {
        var ids = Set<Int>()
        var hasLatency = false
        var hasErrors = false
        for record in records {
            ids.formUnion(record.attributes.keys)
            ids.formUnion(record.normalized.keys)
            hasLatency = hasLatency || record.latencyRatio != nil
            hasErrors = hasErrors || record.ioErrors != nil
        }
        let sortedIDs = ids.sorted()
        var out = "date,serial_number,model,capacity_bytes,failure"
        for id in sortedIDs { out += ",smart_\(id)_normalized,smart_\(id)_raw" }
        if hasLatency { out += ",granary_latency_ratio" }
        if hasErrors { out += ",granary_io_errors" }
        out += "\n"
        out.reserveCapacity(records.count * (48 + 8 * sortedIDs.count))

        var cachedDay = Int.min
        var cachedDate = ""
        for record in records {
            if record.day != cachedDay {
                cachedDay = record.day
                cachedDate = record.date
            }
            out += cachedDate
            out += ","
            out += quoted(record.serial)
            out += ","
            out += quoted(record.model)
            out += ","
            if let capacity = record.capacityBytes { out += String(capacity) }
            out += record.failure ? ",1" : ",0"
            for id in sortedIDs {
                out += ","
                if let value = record.normalized[id] { out += format(value) }
                out += ","
                if let value = record.attributes[id] { out += format(value) }
            }
            if hasLatency {
                out += ","
                if let value = record.latencyRatio { out += format(value) }
            }
            if hasErrors {
                out += ","
                if let value = record.ioErrors { out += format(value) }
            }
            out += "\n"
        }
        return out
    }

    /// Whole numbers print without a fraction, as Backblaze writes them; anything else uses
    /// Swift's shortest round-tripping form so parse(render(x)) is exact.
    static func format(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }

    static func quoted(_ field: String) -> String {
        let needsQuotes = field.utf8.contains { $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\"") || $0 == 10 || $0 == 13 }
        guard needsQuotes else { return field }
        return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
