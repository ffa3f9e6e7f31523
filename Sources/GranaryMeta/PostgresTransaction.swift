import Logging
import NIOCore
import PostgresNIO

/// The statements of one `PostgresMetaStore` transaction, run one at a time on the calling thread
/// over one pooled connection.
///
/// Each statement blocks the caller with `EventLoopFuture.wait()` until the server answers. That is
/// safe because the caller is never one of the store's own event-loop threads (those only run
/// postgres-nio's I/O and never call into the store), so the loop that completes the future is
/// free to run while the caller waits. Errors are thrown as they come (`PSQLError`, `MetaError`):
/// the store's transaction runner decides which ones to retry.
struct PostgresTransaction {
    let connection: PostgresConnection
    let logger: Logger
    /// The database URL without password, for `.corrupt` errors.
    let location: String
    /// How long one statement may wait (`query_timeout`): then the connection is closed, which
    /// fails the statement as a lost connection (retried on a new one before COMMIT, reported as
    /// possibly applied during it).
    let timeout: Double

    private func answer(_ query: PostgresQuery) throws -> PostgresQueryResult {
        let future = connection.query(query, logger: logger)
        let connection = self.connection
        let timer = connection.eventLoop.scheduleTask(in: .milliseconds(Int64(timeout * 1000))) {
            let closing: EventLoopFuture<Void> = connection.close()
            _ = closing
        }
        defer { timer.cancel() }
        return try future.wait()
    }

    /// Runs one statement and returns its rows.
    func rows(_ sql: String, _ values: [PostgresValue] = []) throws -> [PostgresRandomAccessRow] {
        let query = PostgresQuery(unsafeSQL: sql, binds: try PostgresValue.bindings(values))
        return try answer(query).rows.map { $0.makeRandomAccess() }
    }

    /// Runs one statement and returns how many rows it inserted, updated or deleted.
    @discardableResult
    func execute(_ sql: String, _ values: [PostgresValue] = []) throws -> Int {
        let query = PostgresQuery(unsafeSQL: sql, binds: try PostgresValue.bindings(values))
        return try answer(query).metadata.rows ?? 0
    }

    /// The first row of a statement's result, `nil` when it has none.
    func row(_ sql: String, _ values: [PostgresValue] = [], table: String, key: String) throws -> PostgresRowReader? {
        try rows(sql, values).first.map { reader($0, table: table, key: key) }
    }

    func reader(_ row: PostgresRandomAccessRow, table: String, key: String) -> PostgresRowReader {
        PostgresRowReader(row: row, location: location, table: table, key: key)
    }
}
