extension PostgresMetaStore {
    /// Race-free: the transaction is SERIALIZABLE (and takes the leases' advisory lock first), so
    /// of two managers asking at once one sees the other's lease. Expiry is judged on the database
    /// server's clock, read inside the transaction, so managers with skewed clocks agree.
    public func acquireLease(_ name: String, holder: String, ttl: Double) throws(MetaError) -> Lease {
        try MetaRules.validateLease(name, holder: holder, ttl: ttl)
        return try write(locking: [LockKey.leases]) { tx in
            let now = try serverClock(tx)
            var stored: Lease?
            if let row = try tx.row("SELECT holder, epoch, expires_at FROM leases WHERE name = $1 FOR UPDATE", [.text(name)],
                                    table: "leases", key: name) {
                stored = Lease(name: name, holder: try row.string("holder"), epoch: try row.bits("epoch"),
                               expiresAt: try row.double("expires_at"), held: false)
            }
            let lease = MetaRules.acquire(stored, name: name, holder: holder, now: now, ttl: ttl)
            if lease.held {
                try tx.execute("""
                    INSERT INTO leases (name, holder, epoch, expires_at) VALUES ($1, $2, $3, $4)
                    ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, epoch = excluded.epoch, expires_at = excluded.expires_at
                    """, [.text(name), .text(lease.holder), .bits(lease.epoch), .double(lease.expiresAt)])
            }
            return lease
        }
    }

    public func releaseLease(_ name: String, holder: String) throws(MetaError) {
        try MetaRules.validateLease(name, holder: holder, ttl: nil)
        try write(locking: [LockKey.leases]) { tx in
            try tx.execute("UPDATE leases SET expires_at = $1 WHERE name = $2 AND holder = $3",
                           [.double(MetaRules.releasedExpiry), .text(name), .text(holder)])
        }
    }

    /// The database server's wall clock now, in seconds since 1970 (`clock_timestamp()`, not the
    /// transaction's start time, so a transaction that waited for a lock does not judge expiry late).
    private func serverClock(_ tx: PostgresTransaction) throws -> Double {
        guard let row = try tx.row("SELECT extract(epoch FROM clock_timestamp())::float8 AS now", table: "clock", key: "now") else {
            throw MetaError.database(path: location, reason: "the server did not report its clock")
        }
        return try row.double("now")
    }
}
