import GRDB
import GranaryCore

/// The metadata store kept in one SQLite file on the manager's local disk.
///
/// Guarantees:
/// - every method runs in one SQLite transaction, so it applies completely or not at all;
/// - a committed change survives a crash or power loss (`synchronous = FULL`, see `init`);
/// - the schema is migrated forward on open, and a file written by a newer Granary is refused with
///   `.newerSchema` before anything in it is changed;
/// - reads run concurrently with each other and with a write (WAL mode); writes are serialized.
///
/// It is `Sendable` without `@unchecked`: its only state is the path and GRDB's `DatabasePool`,
/// which is itself `Sendable` (it serializes writes on one connection and hands each read its own).
/// GRDB stays an implementation detail: no GRDB type appears in the public API.
public final class SQLiteMetaStore: MetaStore {
    /// The database file.
    public let path: String
    let pool: DatabasePool

    /// The highest schema version this build can open.
    public static var supportedSchemaVersion: Int { SQLiteSchema.supportedVersion }

    /// Opens (creating if needed) the database at `path` and migrates it to the current schema.
    ///
    /// Throws `.database` when the file cannot be opened or is not an SQLite database,
    /// `.newerSchema` when it was written by a newer Granary.
    public init(path: String) throws(MetaError) {
        self.path = path
        var config = Configuration()
        config.foreignKeysEnabled = true
        // Another process holding the write lock (an operator's sqlite3, a backup) gets 5 s
        // before we report the database busy.
        config.busyMode = .timeout(5)
        config.prepareDatabase { db in
            // synchronous = FULL: in WAL mode, NORMAL may lose the last committed transactions on
            // power loss (never corrupts, but forgets). A metadata reply tells a client its mkdir or
            // rename happened, and chunks may already be placed on drives under that name, so a
            // forgotten commit would be a lie to the client; FULL fsyncs the WAL on every commit.
            // The cost is one fsync per metadata write, acceptable for namespace operations.
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        // DatabasePool always puts the file in WAL mode.
        let pool: DatabasePool
        do {
            pool = try DatabasePool(path: path, configuration: config)
        } catch {
            throw Self.mapError(error, path: path)
        }
        // GRDB's DatabasePool sets its writer to synchronous = NORMAL after switching to WAL,
        // overriding prepareDatabase; set FULL again on the writer, whose commits are the ones
        // that must reach the disk (measured: 3 fdatasyncs for 132 commits without this).
        do {
            try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        } catch {
            throw Self.mapError(error, path: path)
        }
        self.pool = pool
        try refuseNewerSchema()
        try migrate()
    }

    /// Applies the missing migrations. GRDB decides which are missing once, then runs each in its
    /// own transaction, so another process opening the same new file at the same moment can apply
    /// one in between and ours then fails on tables that already exist. Then look again and go on
    /// from there: each retry follows a migration the other opener committed, so this ends.
    private func migrate() throws(MetaError) {
        var applied = (try? pool.read { db in try SQLiteSchema.migrator.appliedIdentifiers(db).count }) ?? 0
        while true {
            do {
                try SQLiteSchema.migrator.migrate(pool)
                return
            } catch {
                let now = (try? pool.read { db in try SQLiteSchema.migrator.appliedIdentifiers(db).count }) ?? applied
                guard now > applied else { throw Self.mapError(error, path: path) }
                applied = now
            }
        }
    }

    /// Throws `.newerSchema` when the file records a schema version above ours, or migrations this
    /// code does not know.
    private func refuseNewerSchema() throws(MetaError) {
        let supported = SQLiteSchema.supportedVersion
        let (found, superseded) = try read { db in
            let found = try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
            return (found, try SQLiteSchema.migrator.hasBeenSuperseded(db))
        }
        if found > supported || superseded {
            throw .newerSchema(path: path, found: max(found, supported + 1), supported: supported)
        }
    }

    /// The writer connection's `PRAGMA synchronous` (2 = FULL: every commit fsyncs the WAL).
    public func writerSynchronousLevel() throws(MetaError) -> Int {
        try write { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1 }
    }

    public func schemaVersion() throws(MetaError) -> Int {
        try read { db in try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0 }
    }

    // MARK: Transactions with typed errors

    /// Runs `body` in a read transaction (a consistent snapshot).
    func read<T>(_ body: (Database) throws -> T) throws(MetaError) -> T {
        do { return try pool.read(body) } catch { throw Self.mapError(error, path: path) }
    }

    /// Runs `body` in a write transaction; anything it throws rolls the transaction back.
    func write<T>(_ body: (Database) throws -> T) throws(MetaError) -> T {
        do { return try pool.write(body) } catch { throw Self.mapError(error, path: path) }
    }

    static func mapError(_ error: any Error, path: String) -> MetaError {
        if let e = error as? MetaError { return e }
        if let e = error as? DatabaseError {
            var reason = "\(e.message ?? "unknown error") (SQLite error \(e.extendedResultCode.rawValue))"
            if e.resultCode == .SQLITE_CANTOPEN {
                let dir = FileIO.parent(of: path)
                if !FileIO.isDirectory(dir) { reason += ": the directory \(dir) does not exist" }
            } else if e.resultCode == .SQLITE_NOTADB {
                reason += ": the file is not an SQLite database"
            }
            return .database(path: path, reason: reason)
        }
        return .database(path: path, reason: "\(error)")
    }

    /// Reads typed columns of one row, turning anything unreadable into `.corrupt` naming the row.
    struct Fields {
        let row: Row
        let path: String
        let table: String
        let key: String

        func get<T: DatabaseValueConvertible>(_ column: String, as type: T.Type = T.self) throws(MetaError) -> T {
            do {
                return try row.decode(T.self, forColumn: column)
            } catch {
                throw corrupt("column \(column): \(error)")
            }
        }

        func uint32(_ column: String) throws(MetaError) -> UInt32 {
            let v = try get(column, as: Int64.self)
            guard let u = UInt32(exactly: v) else { throw corrupt("column \(column) holds \(v), not a 32-bit unsigned value") }
            return u
        }

        func corrupt(_ reason: String) -> MetaError {
            .corrupt(path: path, table: table, key: key, reason: reason)
        }
    }

    func fields(_ row: Row, table: String, key: String) -> Fields {
        Fields(row: row, path: path, table: table, key: key)
    }
}
