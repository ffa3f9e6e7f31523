#if canImport(Glibc)
import Glibc
#endif
import Foundation
import GRDB
@_exported import GranaryTestSupport
import GranaryMeta
import Synchronization
import Testing

/// A fresh directory under /tmp, removed with everything in it when the body returns or throws.
func withTempDir<T>(_ body: (String) throws -> T) throws -> T {
    var template = Array("/tmp/granary-meta-test-XXXXXX".utf8CString)
    let dir: String = try template.withUnsafeMutableBufferPointer { buf in
        guard let base = buf.baseAddress, mkdtemp(base) != nil else { throw TestSetupError("mkdtemp failed") }
        return String(cString: base)
    }
    defer { removeTree(dir) }
    return try body(dir)
}

/// An SQLite store on a fresh file in a fresh temporary directory (for SQLite-only tests).
func withSQLiteStore<T>(_ body: (SQLiteMetaStore, String) throws -> T) throws -> T {
    try withTempDir { dir throws in
        let path = dir + "/meta.db"
        let store = try SQLiteMetaStore(path: path)
        return try body(store, path)
    }
}


/// Removes `path` and, for a directory, everything below it.
func removeTree(_ path: String) {
    if let d = opendir(path) {
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name == "." || name == ".." { continue }
            removeTree(path + "/" + name)
        }
        closedir(d)
        rmdir(path)
    } else {
        unlink(path)
    }
}

/// Writes `text` to `path`, replacing it.
func writeFile(_ path: String, _ text: String) throws {
    guard let f = fopen(path, "w") else { throw TestSetupError("cannot create \(path)") }
    defer { fclose(f) }
    guard fputs(text, f) >= 0 else { throw TestSetupError("cannot write \(path)") }
}

/// `withTempDir` for async bodies.
func withTempDirAsync<T>(_ body: (String) async throws -> T) async throws -> T {
    var template = Array("/tmp/granary-meta-test-XXXXXX".utf8CString)
    let dir: String = try template.withUnsafeMutableBufferPointer { buf in
        guard let base = buf.baseAddress, mkdtemp(base) != nil else { throw TestSetupError("mkdtemp failed") }
        return String(cString: base)
    }
    defer { removeTree(dir) }
    return try await body(dir)
}

/// The metadata engines the conformance suite runs every shared test against.
enum Engine: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite, postgres

    static let all = allCases

    var testDescription: String { rawValue }

    /// The schema version a freshly opened store of this engine reports.
    var supportedSchemaVersion: Int {
        switch self {
        case .sqlite: SQLiteMetaStore.supportedSchemaVersion
        case .postgres: PostgresMetaStore.supportedSchemaVersion
        }
    }

    /// A fresh, empty database (nothing created in it yet) for `body`, removed afterwards.
    func withDatabase<T>(_ body: (TestDatabase) throws -> T) throws -> T {
        switch self {
        case .sqlite:
            return try withTempDir { dir throws in try body(TestDatabase(engine: self, location: dir + "/meta.db")) }
        case .postgres:
            return try PostgresTestServer.withDatabase { url throws in try body(TestDatabase(engine: self, location: url)) }
        }
    }

    /// `withStore` for async bodies.
    func withStoreAsync<T>(_ body: (any MetaStore) async throws -> T) async throws -> T {
        switch self {
        case .sqlite:
            return try await withTempDirAsync { dir in try await body(try SQLiteMetaStore(path: dir + "/meta.db")) }
        case .postgres:
            return try await PostgresTestServer.withDatabaseAsync { url in try await body(try PostgresMetaStore(url: url)) }
        }
    }

    /// A freshly opened (migrated) store on a fresh database.
    func withStore<T>(_ body: (any MetaStore, TestDatabase) throws -> T) throws -> T {
        try withDatabase { db throws in try body(try db.open(), db) }
    }
}

/// One test's database: where it is, how to open a store on it, and a way around the store for
/// setting up states the store would never write (old schemas, corrupt rows).
struct TestDatabase: Sendable {
    let engine: Engine
    /// The file path (SQLite) or URL (PostgreSQL) that `MetaStores.open` takes.
    let location: String

    /// A new store on this database, through the factory.
    func open() throws(MetaError) -> any MetaStore { try MetaStores.open(location) }

    /// The name of the PostgreSQL database.
    var databaseName: String {
        let path = location.split(separator: "?")[0]
        return String(path.split(separator: "/").last ?? "")
    }

    /// Runs `statements` directly on the database, outside any store.
    func execute(_ statements: [String]) throws {
        switch engine {
        case .sqlite:
            let q = try DatabaseQueue(path: location)
            defer { try? q.close() }
            try q.write { db in for s in statements { try db.execute(sql: s) } }
        case .postgres:
            try PostgresTestServer.get().execute(statements, database: databaseName)
        }
    }

    /// The integer the query `sql` answers (first column of the first row), `nil` for NULL or no row.
    func integer(_ sql: String) throws -> Int64? {
        switch engine {
        case .sqlite:
            let q = try DatabaseQueue(path: location)
            defer { try? q.close() }
            return try q.read { db in try Int64.fetchOne(db, sql: sql) }
        case .postgres:
            guard let row = try PostgresTestServer.get().execute([sql], database: databaseName).first, row.count > 0 else { return nil }
            return try row[0].decode(Int64?.self)
        }
    }
}

/// Runs `body(i)` for `i` in `0..<count`, each on its own new thread, all started together, and
/// waits for them: real concurrency however few cores the cooperative pool has.
func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let done = DispatchGroup()
    let start = DispatchSemaphore(value: 0)
    for i in 0..<count {
        done.enter()
        let t = Thread {
            start.wait()
            body(i)
            done.leave()
        }
        t.start()
    }
    for _ in 0..<count { start.signal() }
    done.wait()
}

/// A count shared by several threads.
final class Counter: Sendable {
    private let count = Atomic<Int>(0)
    func add() { count.add(1, ordering: .sequentiallyConsistent) }
    var value: Int { count.load(ordering: .sequentiallyConsistent) }
}

/// Values collected from several threads.
final class Collected<T: Sendable>: Sendable {
    private let items = Mutex<[T]>([])
    func add(_ item: T) { items.withLock { $0.append(item) } }
    var all: [T] { items.withLock { $0 } }
}
