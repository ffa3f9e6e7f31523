import GRDB

/// The versioned schema of `SQLiteMetaStore`.
///
/// Each migration is registered once under a permanent name and never edited after release; a
/// change to the schema is a new migration appended to `migrations`. Every migration ends by
/// setting `PRAGMA user_version` to its position (1, 2, …), so the schema version is readable by
/// any SQLite tool and a file written by a newer Granary (a higher `user_version`, or migrations
/// this code does not know) is refused before anything touches it.
enum SQLiteSchema {
    /// The migrations in order: (permanent name, body). The schema version is their count.
    static let migrations: [(name: String, body: @Sendable (Database) throws -> Void)] = [
        ("v1-cluster", v1Cluster),
        ("v2-namespace", v2Namespace),
        ("v3-stripes", v3Stripes),
        ("v4-repair", v4Repair),
        ("v5-leases", v5Leases),
        ("v6-drive-health", v6DriveHealth),
    ]

    /// The highest schema version this code can read and write.
    static var supportedVersion: Int { migrations.count }

    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        for (index, migration) in migrations.enumerated() {
            let version = index + 1
            let body = migration.body
            // Foreign keys are checked at the end of each migration (GRDB's default, `.deferred`).
            m.registerMigration(migration.name) { db in
                try body(db)
                try db.execute(sql: "PRAGMA user_version = \(version)")
            }
        }
        return m
    }

    /// Cluster identity and the cluster map (nodes and their drives, in saved order).
    @Sendable static func v1Cluster(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE cluster_info (
                singleton  INTEGER PRIMARY KEY CHECK (singleton = 1),
                cluster_id TEXT NOT NULL,
                created_at REAL NOT NULL
            );
            -- One row holding the cluster map version (a UInt64 stored by bit pattern).
            CREATE TABLE cluster_map (
                singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
                version   INTEGER NOT NULL
            );
            INSERT INTO cluster_map (singleton, version) VALUES (1, 0);
            CREATE TABLE nodes (
                id             TEXT PRIMARY KEY NOT NULL,
                position       INTEGER NOT NULL,
                address        TEXT NOT NULL,
                state          TEXT NOT NULL,
                last_heartbeat REAL
            );
            CREATE TABLE drives (
                id             TEXT PRIMARY KEY NOT NULL,
                node_id        TEXT NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,
                position       INTEGER NOT NULL,
                state          TEXT NOT NULL,
                capacity_bytes INTEGER NOT NULL,
                used_bytes     INTEGER NOT NULL,
                free_bytes     INTEGER NOT NULL,
                chunk_count    INTEGER NOT NULL,
                problem        TEXT
            );
            CREATE INDEX drives_by_node ON drives(node_id, position);
            """)
    }

    /// Inodes and directory entries, with the root directory (inode 1).
    @Sendable static func v2Namespace(_ db: Database) throws {
        // AUTOINCREMENT: inode numbers are never reused, so a stale id cached by a client finds
        // nothing instead of another file.
        try db.execute(sql: """
            CREATE TABLE inodes (
                id             INTEGER PRIMARY KEY AUTOINCREMENT,
                kind           TEXT NOT NULL CHECK (kind IN ('file', 'directory', 'symlink')),
                mode           INTEGER NOT NULL,
                uid            INTEGER NOT NULL,
                gid            INTEGER NOT NULL,
                size           INTEGER NOT NULL CHECK (size >= 0),
                nlink          INTEGER NOT NULL,
                mtime          REAL NOT NULL,
                ctime          REAL NOT NULL,
                symlink_target TEXT,
                CHECK ((kind = 'symlink') = (symlink_target IS NOT NULL))
            );
            CREATE TABLE dir_entries (
                parent INTEGER NOT NULL REFERENCES inodes(id),
                name   TEXT NOT NULL,
                inode  INTEGER NOT NULL REFERENCES inodes(id),
                kind   TEXT NOT NULL CHECK (kind IN ('file', 'directory', 'symlink')),
                PRIMARY KEY (parent, name)
            ) WITHOUT ROWID;
            CREATE INDEX dir_entries_by_inode ON dir_entries(inode);
            """)
        let now = Clock.now()
        try db.execute(
            sql: """
                INSERT INTO inodes (id, kind, mode, uid, gid, size, nlink, mtime, ctime)
                VALUES (?, 'directory', ?, 0, 0, 0, 2, ?, ?)
                """,
            arguments: [Int64(InodeID.root.rawValue), Int64(0o755), now, now])
    }

    /// Stripes, where their fragments live, file extents, directory layouts and stripe-id allocation.
    @Sendable static func v3Stripes(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE stripe_ids (
                singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
                next      INTEGER NOT NULL
            );
            INSERT INTO stripe_ids (singleton, next) VALUES (1, 1);
            -- When each range of ids was handed out: garbage collection deletes uncommitted
            -- fragments only below the ids reserved before its grace period.
            CREATE TABLE stripe_allocations (
                first INTEGER PRIMARY KEY,
                count INTEGER NOT NULL,
                at    REAL NOT NULL
            );
            CREATE TABLE stripes (
                id              INTEGER PRIMARY KEY,
                k               INTEGER NOT NULL,
                m               INTEGER NOT NULL,
                fragment_size   INTEGER NOT NULL,
                backend         TEXT NOT NULL,
                version         INTEGER NOT NULL,
                data_length     INTEGER NOT NULL,
                fragment_length INTEGER NOT NULL,
                header_length   INTEGER NOT NULL,
                created_at      REAL NOT NULL
            );
            CREATE TABLE fragments (
                stripe INTEGER NOT NULL REFERENCES stripes(id) ON DELETE CASCADE,
                idx    INTEGER NOT NULL,
                drive  TEXT NOT NULL,
                PRIMARY KEY (stripe, idx)
            ) WITHOUT ROWID;
            CREATE INDEX fragments_by_drive ON fragments(drive);
            CREATE TABLE extents (
                inode         INTEGER NOT NULL REFERENCES inodes(id) ON DELETE CASCADE,
                file_offset   INTEGER NOT NULL,
                stripe        INTEGER NOT NULL REFERENCES stripes(id),
                stripe_offset INTEGER NOT NULL,
                length        INTEGER NOT NULL,
                PRIMARY KEY (inode, file_offset)
            ) WITHOUT ROWID;
            CREATE INDEX extents_by_stripe ON extents(stripe);
            CREATE TABLE dir_layouts (
                inode         INTEGER PRIMARY KEY REFERENCES inodes(id) ON DELETE CASCADE,
                k             INTEGER NOT NULL,
                m             INTEGER NOT NULL,
                fragment_size INTEGER NOT NULL,
                backend       TEXT NOT NULL
            );
            """)
    }

    /// Fragment generations (a rewritten fragment gets a new chunk key), the wide layout of shrunk
    /// stripes, and the manager's saved service state (rebuild and scrub progress).
    @Sendable static func v4Repair(_ db: Database) throws {
        try db.execute(sql: """
            ALTER TABLE fragments ADD COLUMN generation INTEGER NOT NULL DEFAULT 1;
            -- Set while a stripe is stored narrower than it was written (shrunk): what to expand back to.
            ALTER TABLE stripes ADD COLUMN wide_k INTEGER;
            ALTER TABLE stripes ADD COLUMN wide_fragment_size INTEGER;
            CREATE INDEX stripes_shrunk ON stripes(id) WHERE wide_k IS NOT NULL;
            CREATE TABLE service_state (
                name       TEXT PRIMARY KEY NOT NULL,
                value      TEXT NOT NULL,
                updated_at REAL NOT NULL
            );
            """)
    }

    /// Named leases: which manager leads background work when several share one store.
    @Sendable static func v5Leases(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE leases (
                name       TEXT PRIMARY KEY NOT NULL,
                holder     TEXT NOT NULL,
                epoch      INTEGER NOT NULL,
                expires_at REAL NOT NULL
            );
            """)
    }

    /// Drive health (suspect, evicted) in the drive rows, so that a manager that restarts or takes
    /// over, and every follower, reads the marks with the map instead of every drive as healthy.
    @Sendable static func v6DriveHealth(_ db: Database) throws {
        try db.execute(sql: """
            ALTER TABLE drives ADD COLUMN health TEXT NOT NULL DEFAULT 'healthy';
            ALTER TABLE drives ADD COLUMN health_note TEXT;
            """)
    }
}
