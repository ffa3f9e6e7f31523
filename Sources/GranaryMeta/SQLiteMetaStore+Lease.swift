import GRDB

extension SQLiteMetaStore {
    /// Race-free because every write transaction holds SQLite's single write lock; expiry is judged
    /// on this host's clock, which is the only clock a local SQLite file has.
    public func acquireLease(_ name: String, holder: String, ttl: Double) throws(MetaError) -> Lease {
        try MetaRules.validateLease(name, holder: holder, ttl: ttl)
        return try write { db in
            let lease = MetaRules.acquire(try storedLease(db, name), name: name, holder: holder, now: Clock.now(), ttl: ttl)
            if lease.held {
                try db.execute(sql: """
                    INSERT INTO leases (name, holder, epoch, expires_at) VALUES (?, ?, ?, ?)
                    ON CONFLICT(name) DO UPDATE SET holder = excluded.holder, epoch = excluded.epoch, expires_at = excluded.expires_at
                    """, arguments: [name, lease.holder, Int64(bitPattern: lease.epoch), lease.expiresAt])
            }
            return lease
        }
    }

    public func releaseLease(_ name: String, holder: String) throws(MetaError) {
        try MetaRules.validateLease(name, holder: holder, ttl: nil)
        try write { db in
            try db.execute(sql: "UPDATE leases SET expires_at = ? WHERE name = ? AND holder = ?",
                           arguments: [MetaRules.releasedExpiry, name, holder])
        }
    }

    private func storedLease(_ db: Database, _ name: String) throws -> Lease? {
        guard let row = try Row.fetchOne(db, sql: "SELECT holder, epoch, expires_at FROM leases WHERE name = ?", arguments: [name]) else {
            return nil
        }
        let f = fields(row, table: "leases", key: name)
        return Lease(name: name, holder: try f.get("holder"), epoch: UInt64(bitPattern: try f.get("epoch", as: Int64.self)),
                     expiresAt: try f.get("expires_at"), held: false)
    }
}
