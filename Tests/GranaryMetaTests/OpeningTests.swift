import GRDB
import GranaryMeta
import Testing

@Suite("Opening an SQLite database (file paths, WAL, synchronous = FULL)")
struct OpeningTests {
    @Test func newerSchemaVersionIsRefusedAndFileLeftAlone() throws {
        try withTempDir { dir throws in
            let path = dir + "/meta.db"
            do { _ = try SQLiteMetaStore(path: path) }
            let supported = SQLiteMetaStore.supportedSchemaVersion
            let q = try DatabaseQueue(path: path)
            try q.write { db in try db.execute(sql: "PRAGMA user_version = \(supported + 1)") }
            try q.close()

            let error = #expect(throws: MetaError.self) { try SQLiteMetaStore(path: path) }
            #expect(error == .newerSchema(path: path, found: supported + 1, supported: supported))
            let message = error?.description ?? ""
            #expect(message.contains(path))
            #expect(message.contains("newer Granary"))

            let check = try DatabaseQueue(path: path)
            #expect(try check.read { db in try Int.fetchOne(db, sql: "PRAGMA user_version") } == supported + 1)
            try check.close()
        }
    }

    @Test func unknownMigrationIsRefused() throws {
        try withTempDir { dir throws in
            let path = dir + "/meta.db"
            do { _ = try SQLiteMetaStore(path: path) }
            let q = try DatabaseQueue(path: path)
            try q.write { db in try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v3-future')") }
            try q.close()
            let supported = SQLiteMetaStore.supportedSchemaVersion
            #expect(throws: MetaError.newerSchema(path: path, found: supported + 1, supported: supported)) {
                try SQLiteMetaStore(path: path)
            }
        }
    }

    @Test func migrationsAreRecordedByName() throws {
        try withTempDir { dir throws in
            let path = dir + "/meta.db"
            do { _ = try SQLiteMetaStore(path: path) }
            let q = try DatabaseQueue(path: path)
            let names = try q.read { db in
                try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations ORDER BY identifier")
            }
            let pragmas = try q.read { db in
                (try String.fetchOne(db, sql: "PRAGMA journal_mode"), try Int.fetchOne(db, sql: "PRAGMA user_version"))
            }
            try q.close()
            #expect(names == ["v1-cluster", "v2-namespace", "v3-stripes", "v4-repair", "v5-leases", "v6-drive-health"])
            #expect(pragmas.0 == "wal")
            #expect(pragmas.1 == 6)
            // Reopening an up-to-date file migrates nothing and keeps the data.
            let store = try SQLiteMetaStore(path: path)
            #expect(try store.schemaVersion() == 6)
        }
    }

    @Test func missingDirectoryIsADatabaseErrorNamingThePath() throws {
        try withTempDir { dir throws in
            let path = dir + "/no/such/dir/meta.db"
            let error = #expect(throws: MetaError.self) { try SQLiteMetaStore(path: path) }
            guard case let .database(p, reason)? = error else {
                Issue.record("expected .database, got \(String(describing: error))")
                return
            }
            #expect(p == path)
            #expect(reason.contains("does not exist"))
            #expect(error?.description.contains(path) == true)
        }
    }

    @Test func garbageFileIsADatabaseErrorNamingThePath() throws {
        try withTempDir { dir throws in
            let path = dir + "/meta.db"
            try writeFile(path, String(repeating: "this is not an SQLite database, just text.\n", count: 200))
            let error = #expect(throws: MetaError.self) { try SQLiteMetaStore(path: path) }
            guard case let .database(p, reason)? = error else {
                Issue.record("expected .database, got \(String(describing: error))")
                return
            }
            #expect(p == path)
            #expect(reason.contains("not an SQLite database"))
            #expect(error?.description.contains(path) == true)
        }
    }

    @Test func everyCommitReachesTheDisk() throws {
        try withSQLiteStore { store, _ throws in
            // The writer runs synchronous = FULL, not GRDB's WAL default.
            #expect(try store.writerSynchronousLevel() == 2)
        }
    }

    @Test func foreignKeysAreEnforced() throws {
        try withSQLiteStore { store, path throws in
            _ = store
            let q = try DatabaseQueue(path: path)
            defer { try? q.close() }
            #expect(throws: DatabaseError.self) {
                try q.write { db in
                    try db.execute(sql: "INSERT INTO dir_entries (parent, name, inode, kind) VALUES (1, 'x', 999, 'file')")
                }
            }
        }
    }

    @Test func errnoMapping() {
        #expect(MetaError.notFound(parent: .root, name: "a").errno == 2)
        #expect(MetaError.exists(parent: .root, name: "a").errno == 17)
        #expect(MetaError.notDirectory(inode: .root, name: nil).errno == 20)
        #expect(MetaError.isDirectory(inode: .root, name: nil).errno == 21)
        #expect(MetaError.notEmpty(inode: .root, name: "a").errno == 39)
        #expect(MetaError.invalidName("a/b").errno == 22)
    }
}
