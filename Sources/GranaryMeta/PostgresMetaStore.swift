#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PostgresNIO

/// The metadata store kept in a PostgreSQL database, so that several managers can share one
/// namespace and cluster map (and a database server's replication and backups protect it).
///
/// Guarantees (the `MetaStore` ones, plus):
/// - every method runs in one `SERIALIZABLE` transaction, so it applies completely or not at all
///   and concurrent calls — from this process or from other managers on other hosts — behave as if
///   run one after the other; a transaction the server aborts for a serialization failure
///   (SQLSTATE 40001) or a deadlock (40P01) is retried, a bounded number of times with a small
///   jittered backoff, before the call fails with `.database`;
/// - writers that touch the same directory (or the stripe-id allocator, the cluster map, the
///   leases) first take a session advisory lock on it, before their transaction's snapshot, so a
///   busy directory costs waiting, not retries;
/// - the schema is migrated forward on open inside one transaction under an advisory lock (two
///   managers opening at once migrate once), and a database written by a newer Granary is refused
///   with `.newerSchema` before anything in it is changed;
/// - a lost connection is replaced on the next attempt; a call whose connection dropped while its
///   COMMIT was in flight fails with `.database` saying the outcome is unknown, never silently;
/// - errors name the URL with its password removed; a malformed URL is `.invalidLocation`, a server
///   that cannot be reached within the connect timeout `.unreachable`, a refused login
///   `.authenticationFailed`.
///
/// Lease expiry uses the database server's clock (`clock_timestamp()`), so managers on hosts
/// with skewed clocks agree on who leads. Values stored as PostgreSQL `bigint` hold `UInt64`s by
/// bit pattern, as the SQLite engine does.
///
/// It is `Sendable` without `@unchecked`: its state is the immutable location and the connection
/// pool, which is itself `Sendable`. postgres-nio stays an implementation detail: none of its (or
/// SwiftNIO's) types appear in the public API.
public final class PostgresMetaStore: MetaStore {
    /// The URL with the password removed: safe to log and show.
    public let location: String
    /// Seconds a statement may wait for the server (`query_timeout` in the URL, default 30).
    let queryTimeout: Double
    let pool: PostgresConnectionPool

    /// The highest schema version this build can open.
    public static var supportedSchemaVersion: Int { PostgresSchema.supportedVersion }

    /// How many times one call runs its transaction before giving up on serialization failures.
    static let maxAttempts = 30
    /// How many lost connections one call survives (each replaced by a new one).
    static let maxReconnects = 3

    /// Advisory-lock keys of the shared singletons; directories and files lock their (positive)
    /// inode number, so the two ranges never meet.
    enum LockKey {
        static let stripeAllocator: Int64 = -1
        static let clusterMap: Int64 = -2
        static let leases: Int64 = -3
        static let migration: Int64 = -4
    }

    /// Connects to the database at `url` (`postgres://user[:password]@host[:port]/database`, see
    /// `MetaStores.open`) and migrates it to the current schema.
    ///
    /// - Parameters:
    ///   - connectTimeout: seconds allowed for connecting and logging in (the URL's
    ///     `connect_timeout` overrides it).
    ///   - maxConnections: connections kept to the server (at least 1); that many calls run at once.
    /// - Throws: `.invalidLocation`, `.unreachable`, `.authenticationFailed`, `.newerSchema`, or
    ///   `.database` (for example a database that does not exist or lacks privileges).
    public init(url: String, connectTimeout: Double = 5, maxConnections: Int = 8) throws(MetaError) {
        let parsed = try PostgresLocation(parsing: url)
        let timeout = parsed.connectTimeout ?? connectTimeout
        guard timeout > 0, timeout <= 600 else {
            throw .invalidLocation(parsed.redacted, reason: "a connect timeout of \(timeout) s is not between 0 and 600 s")
        }
        location = parsed.redacted
        queryTimeout = parsed.queryTimeout
        pool = PostgresConnectionPool(location: parsed, capacity: maxConnections, connectTimeout: timeout)
        try migrate()
    }

    public func schemaVersion() throws(MetaError) -> Int {
        try read { tx in
            guard let row = try tx.row("SELECT COALESCE(MAX(version), 0) AS v FROM granary_schema", table: "granary_schema", key: "max") else {
                return 0
            }
            return try row.int("v")
        }
    }

    // MARK: Migrations

    /// Brings the schema up to date in one transaction, or refuses a newer one untouched.
    private func migrate() throws(MetaError) {
        let connection = try pool.acquire()
        var reusable = true
        defer { pool.release(connection, reusable: reusable) }
        let tx = PostgresTransaction(connection: connection, logger: pool.logger, location: location, timeout: queryTimeout)
        do {
            try tx.execute("BEGIN")
            do {
                try migrate(tx)
                try tx.execute("COMMIT")
            } catch {
                if (try? tx.execute("ROLLBACK")) == nil { reusable = false }
                throw error
            }
        } catch {
            if !(error is MetaError) { reusable = false }
            throw mapError(error)
        }
    }

    private func migrate(_ tx: PostgresTransaction) throws {
        // Statements after this see every migration another opener committed before it.
        try tx.execute("SELECT pg_advisory_xact_lock($1)", [.bigint(LockKey.migration)])
        if let row = try tx.row("SHOW server_encoding", table: "server", key: "encoding") {
            let encoding = try row.string("server_encoding")
            guard encoding.uppercased() == "UTF8" else {
                throw MetaError.database(path: location, reason: "the database's encoding is \(encoding), but Granary stores UTF-8 "
                                         + "names: create it with ENCODING 'UTF8'")
            }
        }
        let exists = try tx.row("SELECT to_regclass('granary_schema') IS NOT NULL AS present", table: "granary_schema", key: "present")
        var applied: [Int: String] = [:]
        if try exists?.bool("present") == true {
            for r in try tx.rows("SELECT version, name FROM granary_schema ORDER BY version") {
                let row = tx.reader(r, table: "granary_schema", key: "?")
                applied[try row.int("version")] = try row.string("name")
            }
        } else {
            try tx.execute(PostgresSchema.createVersionTable)
        }
        let supported = PostgresSchema.supportedVersion
        if let found = applied.keys.max(), found > supported {
            throw MetaError.newerSchema(path: location, found: found, supported: supported)
        }
        for (index, migration) in PostgresSchema.migrations.enumerated() {
            let version = index + 1
            if let name = applied[version] {
                guard name == migration.name else {
                    throw MetaError.corrupt(path: location, table: "granary_schema", key: "\(version)",
                                            reason: "migration \(version) is '\(name)' here but '\(migration.name)' in this Granary")
                }
                continue
            }
            for statement in migration.statements { try tx.execute(statement) }
            try tx.execute("INSERT INTO granary_schema (version, name, applied_at) VALUES ($1, $2, extract(epoch FROM clock_timestamp())::float8)",
                           [.int(version), .text(migration.name)])
        }
    }

    // MARK: Transactions

    enum Access { case read, write }

    /// Runs `body` in a read-only transaction (one consistent snapshot).
    func read<T>(_ body: (PostgresTransaction) throws -> T) throws(MetaError) -> T {
        try transaction(.read, locking: [], body)
    }

    /// Runs `body` in a read-write transaction after taking the advisory locks `keys`; anything it
    /// throws rolls the transaction back.
    @discardableResult
    func write<T>(locking keys: [Int64] = [], _ body: (PostgresTransaction) throws -> T) throws(MetaError) -> T {
        try transaction(.write, locking: keys, body)
    }

    /// The advisory-lock key of an inode (none for numbers no inode can have).
    static func lockKey(_ id: InodeID) -> [Int64] {
        Int64(exactly: id.rawValue).map { [$0] } ?? []
    }

    private func transaction<T>(_ access: Access, locking keys: [Int64], _ body: (PostgresTransaction) throws -> T) throws(MetaError) -> T {
        var attempt = 0
        var reconnects = 0
        var lastConflict = ""
        while true {
            attempt += 1
            let connection = try pool.acquire()
            let tx = PostgresTransaction(connection: connection, logger: pool.logger, location: location, timeout: queryTimeout)
            var locked = false
            var began = false
            var committing = false
            do {
                // Session advisory locks, taken before BEGIN: the transaction's snapshot then
                // starts after the previous holder committed, so it does not conflict with it.
                for key in Set(keys).sorted() {
                    locked = true
                    try tx.execute("SELECT pg_advisory_lock($1)", [.bigint(key)])
                }
                try tx.execute(access == .read ? "BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY" : "BEGIN ISOLATION LEVEL SERIALIZABLE")
                began = true
                let value = try body(tx)
                committing = true
                try tx.execute("COMMIT")
                began = false
                var reusable = true
                if locked && (try? tx.execute("SELECT pg_advisory_unlock_all()")) == nil {
                    reusable = false  // closing the connection releases its locks
                }
                pool.release(connection, reusable: reusable)
                return value
            } catch {
                var reusable = true
                let kind = Self.classify(error)
                if kind == .connectionLost {
                    reusable = false
                } else {
                    if began && (try? tx.execute("ROLLBACK")) == nil { reusable = false }
                    if reusable && locked && (try? tx.execute("SELECT pg_advisory_unlock_all()")) == nil { reusable = false }
                }
                pool.release(connection, reusable: reusable)
                switch kind {
                case .domain, .other:
                    throw mapError(error)
                case .conflict:
                    lastConflict = Self.serverMessage(error)
                    guard attempt < Self.maxAttempts else {
                        throw .database(path: location, reason: "gave up after \(attempt) attempts, each aborted by concurrent "
                                        + "transactions (last: \(lastConflict))")
                    }
                    Self.backoff(attempt)
                case .connectionLost:
                    if access == .write && committing {
                        throw .database(path: location, reason: "the connection was lost while committing; the change may or may "
                                        + "not have been applied (\(Self.serverMessage(error)))")
                    }
                    reconnects += 1
                    guard reconnects <= Self.maxReconnects else {
                        throw .database(path: location, reason: "the connection was lost \(reconnects) times in one call "
                                        + "(\(Self.serverMessage(error)))")
                    }
                }
            }
        }
    }

    enum Failure { case domain, conflict, connectionLost, other }

    /// Whether an error is ours (a `MetaError` from the body), a conflict worth retrying, a lost
    /// connection, or anything else the server said.
    static func classify(_ error: any Error) -> Failure {
        if error is MetaError { return .domain }
        guard let e = error as? PSQLError else { return .other }
        if let state = e.serverInfo?[.sqlState] {
            // 40001 serialization failure, 40P01 deadlock; 23505 (unique violation) when two
            // transactions insert the same key at once — a retry sees the winner's row and answers
            // as the protocol says (`.exists`, a renewed lease…).
            if state == "40001" || state == "40P01" || state == "23505" { return .conflict }
            // 57P01-57P03: the server is shutting down or restarting; class 08: connection failure.
            if state.hasPrefix("57P") || state.hasPrefix("08") { return .connectionLost }
            return .other
        }
        switch e.code {
        case .serverClosedConnection, .clientClosedConnection, .connectionError, .uncleanShutdown:
            return .connectionLost
        default:
            return .other
        }
    }

    /// The server's message and SQLSTATE, or the client error's code.
    static func serverMessage(_ error: any Error) -> String {
        guard let e = error as? PSQLError else { return "\(error)" }
        if let info = e.serverInfo {
            var text = "\(info[.message] ?? "error") (SQLSTATE \(info[.sqlState] ?? "?"))"
            if let detail = info[.detail] { text += ": \(detail)" }
            return text
        }
        if let underlying = e.underlying { return "\(e.code): \(underlying)" }
        return "\(e.code)"
    }

    func mapError(_ error: any Error) -> MetaError {
        if let e = error as? MetaError { return e }
        return .database(path: location, reason: Self.serverMessage(error))
    }

    /// Sleeps a random time up to a bound that doubles with each attempt (1 ms … 64 ms), so
    /// transactions that collided do not collide again in lockstep.
    static func backoff(_ attempt: Int) {
        let ceiling = UInt32(1000) << UInt32(min(attempt, 6))
        usleep(UInt32.random(in: 200...ceiling))
    }
}
