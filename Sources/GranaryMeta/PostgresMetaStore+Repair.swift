import GranaryCore

extension PostgresMetaStore {
    public func stripes(onDrives drives: Set<DriveID>, after: UInt64, limit: Int) throws(MetaError) -> [Stripe] {
        guard !drives.isEmpty, limit > 0 else { return [] }
        return try read { tx in
            try orderedStripes(tx, "SELECT DISTINCT stripe AS id FROM fragments WHERE drive = ANY($1) AND stripe > $2 ORDER BY stripe LIMIT $3",
                               [.texts(drives.map(\.description)), .bits(after), .int(limit)])
        }
    }

    public func countStripes(onDrives drives: Set<DriveID>) throws(MetaError) -> Int {
        guard !drives.isEmpty else { return 0 }
        return try read { tx in
            try tx.row("SELECT COUNT(DISTINCT stripe) AS n FROM fragments WHERE drive = ANY($1)", [.texts(drives.map(\.description))],
                       table: "fragments", key: "count")?.int("n") ?? 0
        }
    }

    public func countShrunkStripes() throws(MetaError) -> Int {
        try read { tx in
            try tx.row("SELECT COUNT(*) AS n FROM stripes WHERE wide_k IS NOT NULL", table: "stripes", key: "count")?.int("n") ?? 0
        }
    }

    public func shrunkStripes(after: UInt64, limit: Int) throws(MetaError) -> [Stripe] {
        try read { tx in
            try orderedStripes(tx, "SELECT id FROM stripes WHERE wide_k IS NOT NULL AND id > $1 ORDER BY id LIMIT $2",
                               [.bits(after), .int(max(0, limit))])
        }
    }

    public func allStripes(after: UInt64, limit: Int) throws(MetaError) -> [Stripe] {
        try read { tx in
            try orderedStripes(tx, "SELECT id FROM stripes WHERE id > $1 ORDER BY id LIMIT $2", [.bits(after), .int(max(0, limit))])
        }
    }

    public func stripeCensus() throws(MetaError) -> [StripeCensus] {
        try read { tx in
            try tx.rows("""
                SELECT k, m, COUNT(*) AS n, SUM(data_length)::bigint AS bytes, COUNT(*) FILTER (WHERE wide_k IS NOT NULL) AS shrunk
                FROM stripes GROUP BY k, m ORDER BY k, m
                """).map { r in
                let row = tx.reader(r, table: "stripes", key: "census")
                return StripeCensus(k: try row.int("k"), m: try row.int("m"), stripes: try row.int("n"),
                                    dataBytes: try row.int64("bytes"), shrunk: try row.int("shrunk"))
            }
        }
    }

    public func replaceStripe(_ s: Stripe, expectedVersion: UInt32) throws(MetaError) {
        try MetaRules.validateReplacement(s, expectedVersion: expectedVersion)
        try write { tx in
            guard let stored = try stripe(tx, s.id) else { throw MetaError.noSuchStripe(s.id) }
            try MetaRules.validateReplacement(s, expectedVersion: expectedVersion, stored: stored)
            try tx.execute("""
                UPDATE stripes SET k = $1, m = $2, fragment_size = $3, backend = $4, version = $5, fragment_length = $6,
                                   header_length = $7, wide_k = $8, wide_fragment_size = $9
                WHERE id = $10
                """, [.int(s.layout.k), .int(s.layout.m), .int(s.layout.fragmentSize), .text(s.layout.backend), .int(s.version),
                      .int(s.fragmentLength), .int(s.headerLength), .optional(s.wideLayout?.k), .optional(s.wideLayout?.fragmentSize),
                      .bits(s.id)])
            try tx.execute("DELETE FROM fragments WHERE stripe = $1", [.bits(s.id)])
            try insertFragments(tx, s)
        }
    }

    public func serviceState(_ name: String) throws(MetaError) -> String? {
        try read { tx in
            try tx.row("SELECT value FROM service_state WHERE name = $1", [.text(name)], table: "service_state", key: name)?.string("value")
        }
    }

    public func saveServiceState(_ name: String, _ value: String) throws(MetaError) {
        try write { tx in
            try tx.execute("""
                INSERT INTO service_state (name, value, updated_at) VALUES ($1, $2, $3)
                ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at
                """, [.text(name), .text(value), .double(Clock.now())])
        }
    }
}
