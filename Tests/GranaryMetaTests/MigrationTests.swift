import Foundation
import GranaryCore
import GranaryMeta
import Testing

@Suite("Schema migrations")
struct MigrationTests {
    /// The first schema version, written by hand the way the first release left a database: the
    /// cluster tables and the record that migration 1 ran, with a cluster in it.
    static func version1(_ engine: Engine) -> [String] {
        let tables = [
            "CREATE TABLE cluster_info (singleton INTEGER PRIMARY KEY CHECK (singleton = 1), cluster_id TEXT NOT NULL, created_at REAL NOT NULL)",
            "CREATE TABLE cluster_map (singleton INTEGER PRIMARY KEY CHECK (singleton = 1), version BIGINT NOT NULL)",
            "CREATE TABLE nodes (id TEXT PRIMARY KEY NOT NULL, position BIGINT NOT NULL, address TEXT NOT NULL, state TEXT NOT NULL, last_heartbeat REAL)",
            """
            CREATE TABLE drives (id TEXT PRIMARY KEY NOT NULL, node_id TEXT NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,
                position BIGINT NOT NULL, state TEXT NOT NULL, capacity_bytes BIGINT NOT NULL, used_bytes BIGINT NOT NULL,
                free_bytes BIGINT NOT NULL, chunk_count BIGINT NOT NULL, problem TEXT)
            """,
            "CREATE INDEX drives_by_node ON drives(node_id, position)",
            "INSERT INTO cluster_map (singleton, version) VALUES (1, 7)",
            "INSERT INTO cluster_info (singleton, cluster_id, created_at) VALUES (1, 'c-old', 123.5)",
            "INSERT INTO nodes (id, position, address, state, last_heartbeat) VALUES ('n1', 0, '10.0.0.1:7400', 'up', 99.5)",
            """
            INSERT INTO drives (id, node_id, position, state, capacity_bytes, used_bytes, free_bytes, chunk_count, problem)
            VALUES ('n1/d0', 'n1', 0, 'up', 1000, 10, 990, 3, NULL)
            """,
        ]
        switch engine {
        case .sqlite:
            // GRDB's record of applied migrations, and the version any SQLite tool can read.
            return tables + [
                "CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY)",
                "INSERT INTO grdb_migrations (identifier) VALUES ('v1-cluster')",
                "PRAGMA user_version = 1",
            ]
        case .postgres:
            return tables.map { $0.replacingOccurrences(of: " REAL", with: " double precision") } + [
                "CREATE TABLE granary_schema (version bigint PRIMARY KEY, name text NOT NULL, applied_at double precision NOT NULL)",
                "INSERT INTO granary_schema (version, name, applied_at) VALUES (1, 'v1-cluster', 0)",
            ]
        }
    }

    /// What a newer Granary leaves behind: a schema version above ours.
    static func newerVersion(_ engine: Engine, _ version: Int) -> [String] {
        switch engine {
        case .sqlite: ["PRAGMA user_version = \(version)"]
        case .postgres: ["INSERT INTO granary_schema (version, name, applied_at) VALUES (\(version), 'v\(version)-future', 0)"]
        }
    }

    /// How a location appears in errors: a path as it is, a URL without its password.
    static func shown(_ db: TestDatabase) -> String {
        guard db.engine == .postgres, var c = URLComponents(string: db.location) else { return db.location }
        c.password = nil
        return c.string ?? db.location
    }

    @Test(arguments: Engine.all)
    func version1IsMigratedAndItsDataKept(_ engine: Engine) throws {
        try engine.withDatabase { db throws in
            try db.execute(Self.version1(engine))
            let store = try db.open()
            #expect(try store.schemaVersion() == engine.supportedSchemaVersion)
            #expect(try store.clusterInfo() == ClusterInfo(id: "c-old", createdAt: 123.5))
            let map = try store.clusterMap()
            #expect(map.version == 7 && map.nodes.map(\.id.rawValue) == ["n1"] && map.nodes.first?.lastHeartbeat == 99.5)
            #expect(map.drives.map(\.id.description) == ["n1/d0"] && map.drives.first?.freeBytes == 990)
            // Everything the later migrations added works.
            #expect(try store.getattr(.root).kind == .directory)
            let dir = try store.mkdirAll(path: "/a/b", mode: 0o755, uid: 0, gid: 0)
            #expect(try store.resolve(path: "/a/b") == dir)
            let s = try store.allocateStripes(count: 1)
            try store.commitFiles(stripes: [FileDataTests.stripe(s)], files: [
                NewFile(parent: dir.id, name: "f", size: 10, extents: [Extent(fileOffset: 0, stripe: s, stripeOffset: 0, length: 10)]),
            ])
            try store.saveServiceState("repair", "{}")
            #expect(try store.acquireLease("leader", holder: "m1", ttl: 10).held)
            // Reopening migrates nothing more.
            #expect(try db.open().schemaVersion() == engine.supportedSchemaVersion)
            switch engine {
            case .sqlite: #expect(try db.integer("SELECT COUNT(*) FROM grdb_migrations") == Int64(engine.supportedSchemaVersion))
            case .postgres: #expect(try db.integer("SELECT COUNT(*) FROM granary_schema") == Int64(engine.supportedSchemaVersion))
            }
        }
    }

    @Test(arguments: Engine.all)
    func newerSchemaIsRefusedAndLeftAlone(_ engine: Engine) throws {
        try engine.withDatabase { db throws in
            do {
                let store = try db.open()
                _ = try store.mkdir(parent: .root, name: "kept", mode: 0o755, uid: 0, gid: 0)
            }
            let supported = engine.supportedSchemaVersion
            try db.execute(Self.newerVersion(engine, supported + 1))
            let error = #expect(throws: MetaError.self) { try db.open() }
            #expect(error == .newerSchema(path: Self.shown(db), found: supported + 1, supported: supported))
            #expect(error?.description.contains("newer Granary") == true)
            #expect(try db.integer("SELECT COUNT(*) FROM dir_entries") == 1)
            switch engine {
            case .sqlite: #expect(try db.integer("PRAGMA user_version") == Int64(supported + 1))
            case .postgres: #expect(try db.integer("SELECT MAX(version) FROM granary_schema") == Int64(supported + 1))
            }
        }
    }

    @Test(arguments: Engine.all)
    func openersRacingOnAFreshDatabaseMigrateItOnce(_ engine: Engine) throws {
        for _ in 0..<3 {
            try race(engine)
        }
    }

    private func race(_ engine: Engine) throws {
        try engine.withDatabase { db throws in
            let versions = Collected<Int>()
            let errors = Collected<String>()
            onThreads(4) { _ in
                do { versions.add(try db.open().schemaVersion()) } catch { errors.add("\(error)") }
            }
            #expect(errors.all.isEmpty, "\(errors.all)")
            #expect(versions.all == Array(repeating: engine.supportedSchemaVersion, count: 4))
            #expect(try db.open().readdir(.root) == [])
        }
    }
}
