import GRDB
import GranaryCore

extension SQLiteMetaStore {
    public func stripes(onDrives drives: Set<DriveID>, after: UInt64, limit: Int) throws(MetaError) -> [Stripe] {
        guard !drives.isEmpty, limit > 0 else { return [] }
        return try read { db in
            let names = drives.map(\.description)
            let marks = Array(repeating: "?", count: names.count).joined(separator: ", ")
            var args: [any DatabaseValueConvertible] = names
            args.append(Int64(bitPattern: after))
            args.append(limit)
            let ids = try Int64.fetchAll(
                db, sql: "SELECT DISTINCT stripe FROM fragments WHERE drive IN (\(marks)) AND stripe > ? ORDER BY stripe LIMIT ?",
                arguments: StatementArguments(args))
            return try ids.compactMap { try stripe(db, UInt64(bitPattern: $0)) }
        }
    }

    public func countStripes(onDrives drives: Set<DriveID>) throws(MetaError) -> Int {
        guard !drives.isEmpty else { return 0 }
        return try read { db in
            let names = drives.map(\.description)
            let marks = Array(repeating: "?", count: names.count).joined(separator: ", ")
            return try Int.fetchOne(db, sql: "SELECT COUNT(DISTINCT stripe) FROM fragments WHERE drive IN (\(marks))",
                                    arguments: StatementArguments(names)) ?? 0
        }
    }

    public func countShrunkStripes() throws(MetaError) -> Int {
        try read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM stripes WHERE wide_k IS NOT NULL") ?? 0 }
    }

    public func shrunkStripes(after: UInt64, limit: Int) throws(MetaError) -> [Stripe] {
        try read { db in
            let ids = try Int64.fetchAll(db, sql: "SELECT id FROM stripes WHERE wide_k IS NOT NULL AND id > ? ORDER BY id LIMIT ?",
                                         arguments: [Int64(bitPattern: after), max(0, limit)])
            return try ids.compactMap { try stripe(db, UInt64(bitPattern: $0)) }
        }
    }

    public func allStripes(after: UInt64, limit: Int) throws(MetaError) -> [Stripe] {
        try read { db in
            let ids = try Int64.fetchAll(db, sql: "SELECT id FROM stripes WHERE id > ? ORDER BY id LIMIT ?",
                                         arguments: [Int64(bitPattern: after), max(0, limit)])
            return try ids.compactMap { try stripe(db, UInt64(bitPattern: $0)) }
        }
    }

    public func stripeCensus() throws(MetaError) -> [StripeCensus] {
        try read { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT k, m, COUNT(*) AS n, SUM(data_length) AS bytes, SUM(wide_k IS NOT NULL) AS shrunk
                FROM stripes GROUP BY k, m ORDER BY k, m
                """)
            return try rows.map { row in
                let f = fields(row, table: "stripes", key: "census")
                return StripeCensus(k: try f.get("k"), m: try f.get("m"), stripes: try f.get("n"),
                                    dataBytes: try f.get("bytes"), shrunk: try f.get("shrunk"))
            }
        }
    }

    public func replaceStripe(_ s: Stripe, expectedVersion: UInt32) throws(MetaError) {
        try MetaRules.validateReplacement(s, expectedVersion: expectedVersion)
        try write { db in
            guard let stored = try stripe(db, s.id) else { throw MetaError.noSuchStripe(s.id) }
            try MetaRules.validateReplacement(s, expectedVersion: expectedVersion, stored: stored)
            let id = Int64(bitPattern: s.id)
            try db.execute(
                sql: """
                    UPDATE stripes SET k = ?, m = ?, fragment_size = ?, backend = ?, version = ?, fragment_length = ?,
                                       header_length = ?, wide_k = ?, wide_fragment_size = ?
                    WHERE id = ?
                    """,
                arguments: [s.layout.k, s.layout.m, s.layout.fragmentSize, s.layout.backend, Int64(s.version), s.fragmentLength,
                            s.headerLength, s.wideLayout?.k, s.wideLayout?.fragmentSize, id])
            try db.execute(sql: "DELETE FROM fragments WHERE stripe = ?", arguments: [id])
            try insertFragments(db, s)
        }
    }

    public func serviceState(_ name: String) throws(MetaError) -> String? {
        try read { db in try String.fetchOne(db, sql: "SELECT value FROM service_state WHERE name = ?", arguments: [name]) }
    }

    public func saveServiceState(_ name: String, _ value: String) throws(MetaError) {
        try write { db in
            try db.execute(sql: """
                INSERT INTO service_state (name, value, updated_at) VALUES (?, ?, ?)
                ON CONFLICT(name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at
                """, arguments: [name, value, Clock.now()])
        }
    }
}
