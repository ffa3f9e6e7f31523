import PostgresNIO

/// Reads typed columns of one result row, turning anything unreadable into `.corrupt` naming the
/// database (without password), table and row — the PostgreSQL counterpart of the SQLite engine's
/// `Fields`.
struct PostgresRowReader {
    let row: PostgresRandomAccessRow
    let location: String
    let table: String
    let key: String

    func corrupt(_ reason: String) -> MetaError {
        .corrupt(path: location, table: table, key: key, reason: reason)
    }

    func get<T: PostgresDecodable>(_ column: String, as type: T.Type = T.self) throws(MetaError) -> T {
        // The subscript traps on an unknown column; our own SQL names the columns, but a schema
        // changed by hand must not crash the manager.
        guard row.contains(column) else { throw corrupt("column \(column) is missing") }
        do {
            return try row[column].decode(T.self)
        } catch {
            throw corrupt("column \(column): \(String(reflecting: error))")
        }
    }

    func int64(_ column: String) throws(MetaError) -> Int64 { try get(column, as: Int64.self) }

    func int(_ column: String) throws(MetaError) -> Int { Int(try int64(column)) }

    func optionalInt(_ column: String) throws(MetaError) -> Int? { try get(column, as: Int64?.self).map { Int($0) } }

    func bits(_ column: String) throws(MetaError) -> UInt64 { UInt64(bitPattern: try int64(column)) }

    func uint32(_ column: String) throws(MetaError) -> UInt32 {
        let v = try int64(column)
        guard let u = UInt32(exactly: v) else { throw corrupt("column \(column) holds \(v), not a 32-bit unsigned value") }
        return u
    }

    func double(_ column: String) throws(MetaError) -> Double { try get(column, as: Double.self) }

    func optionalDouble(_ column: String) throws(MetaError) -> Double? { try get(column, as: Double?.self) }

    func string(_ column: String) throws(MetaError) -> String { try get(column, as: String.self) }

    func optionalString(_ column: String) throws(MetaError) -> String? { try get(column, as: String?.self) }

    func bool(_ column: String) throws(MetaError) -> Bool { try get(column, as: Bool.self) }
}
