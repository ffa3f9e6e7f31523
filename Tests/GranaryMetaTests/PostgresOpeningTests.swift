#if canImport(Glibc)
import Glibc
#endif
import Foundation
import GranaryMeta
import Testing

@Suite("Opening a PostgreSQL database: URLs, unreachable servers, logins, lost connections")
struct PostgresOpeningTests {
    static let secret = "hunter2-SECRET"

    @Test(arguments: [
        ("postgres://", "no user name"),
        ("postgres://app:\(secret)@/granary", "no host"),
        ("postgres://app:\(secret)@db.example:99999/granary", "port"),
        ("postgres://app:\(secret)@db.example:5432", "no database name"),
        ("postgres://app:\(secret)@db.example/a/b", "one non-empty path component"),
        ("postgres://app:\(secret)@db.example/granary?sslmode=require", "sslmode=require is not supported"),
        ("postgresql://app:\(secret)@db.example/granary?pool=3", "unknown parameter 'pool'"),
        ("postgres://db.example/granary", "no user name"),
        ("postgres://app:\(secret)%zz@db.example/granary", "badly percent-encoded"),
        ("POSTGRES://app:\(secret)?x/y@db.example/granary?password=\(secret)", "unknown parameter 'password'"),
        ("mysql://app:\(secret)@db.example/granary", "unknown scheme"),
        ("", "no database file"),
    ])
    func malformedLocationsAreRefusedWithoutThePassword(_ location: String, _ expected: String) throws {
        let error = #expect(throws: MetaError.self) { try MetaStores.open(location) }
        guard case let .invalidLocation(shown, reason)? = error else {
            Issue.record("expected .invalidLocation, got \(String(describing: error))")
            return
        }
        #expect(reason.contains(expected), "\(reason)")
        #expect(!shown.contains(Self.secret) && error?.description.contains(Self.secret) == false, "\(error?.description ?? "")")
    }

    @Test func theFactoryPicksTheEngineFromTheLocation() throws {
        try withTempDir { dir throws in
            #expect(try MetaStores.open(dir + "/a.db") is SQLiteMetaStore)
            #expect(try MetaStores.open("sqlite:" + dir + "/b.db") is SQLiteMetaStore)
            #expect(try MetaStores.open("sqlite://" + dir + "/c.db") is SQLiteMetaStore)
            #expect(FileManager.default.fileExists(atPath: dir + "/c.db"))
        }
        try PostgresTestServer.withDatabase { url throws in
            let store = try MetaStores.open(url)
            #expect(store is PostgresMetaStore)
            let postgresql = "postgresql" + url.dropFirst("postgres".count)
            #expect(try MetaStores.open(postgresql).readdir(.root) == [])
        }
    }

    @Test func nothingListeningIsUnreachableAtOnce() throws {
        let port = try PostgresTestServer.freePort()
        let url = "postgres://app:\(Self.secret)@127.0.0.1:\(port)/granary?sslmode=disable"
        let start = Date()
        let error = #expect(throws: MetaError.self) { try MetaStores.open(url) }
        #expect(Date().timeIntervalSince(start) < 5)
        guard case let .unreachable(location, reason)? = error else {
            Issue.record("expected .unreachable, got \(String(describing: error))")
            return
        }
        #expect(location == "postgres://app@127.0.0.1:\(port)/granary?sslmode=disable")
        #expect(reason.contains("refused"), "\(reason)")
        #expect(error?.description.contains(Self.secret) == false)
    }

    /// A server that accepts the TCP connection and never answers: the connect timeout ends it.
    @Test func aSilentServerTimesOut() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #expect(fd >= 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let listening = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                bind(fd, sa, len) == 0 && listen(fd, 8) == 0 && getsockname(fd, sa, &len) == 0
            }
        }
        try #require(listening)
        let port = Int(UInt16(bigEndian: addr.sin_port))
        let start = Date()
        let error = #expect(throws: MetaError.self) {
            try PostgresMetaStore(url: "postgres://app:\(Self.secret)@127.0.0.1:\(port)/granary?connect_timeout=1")
        }
        let elapsed = Date().timeIntervalSince(start)
        #expect(elapsed >= 0.9 && elapsed < 5, "took \(elapsed) s")
        guard case let .unreachable(_, reason)? = error else {
            Issue.record("expected .unreachable, got \(String(describing: error))")
            return
        }
        #expect(reason.contains("no answer"), "\(reason)")
    }

    @Test func anUnknownRoleIsAnAuthenticationFailure() throws {
        let server = try PostgresTestServer.get()
        try PostgresTestServer.withDatabase { _ throws in
            let url = server.url(database: "postgres", user: "no_such_role", password: Self.secret)
            let error = #expect(throws: MetaError.self) { try MetaStores.open(url) }
            guard case let .authenticationFailed(location, reason)? = error else {
                Issue.record("expected .authenticationFailed, got \(String(describing: error))")
                return
            }
            #expect(location.contains("no_such_role@") && !location.contains(Self.secret))
            #expect(reason.contains("no_such_role"), "\(reason)")
        }
    }

    /// On the server the tests start, role `granary_pw` must log in with its password.
    @Test func aWrongPasswordIsAnAuthenticationFailureAndTheRightOneWorks() throws {
        let server = try PostgresTestServer.get()
        guard server.ownServer else { return }  // GRANARY_TEST_POSTGRES: its authentication rules are not ours to set
        try PostgresTestServer.withDatabase(owner: PostgresTestServer.passwordUser) { url throws in
            let name = String(url.split(separator: "/").last?.split(separator: "?").first ?? "")
            let wrong = server.url(database: name, user: PostgresTestServer.passwordUser, password: Self.secret)
            let error = #expect(throws: MetaError.self) { try MetaStores.open(wrong) }
            guard case .authenticationFailed? = error else {
                Issue.record("expected .authenticationFailed, got \(String(describing: error))")
                return
            }
            #expect(error?.description.contains(Self.secret) == false)
            let right = server.url(database: name, user: PostgresTestServer.passwordUser, password: PostgresTestServer.passwordUserSecret)
            let store = try MetaStores.open(right)
            _ = try store.mkdir(parent: .root, name: "by-password", mode: 0o755, uid: 0, gid: 0)
            #expect(try store.readdir(.root).map(\.name) == ["by-password"])
        }
    }

    @Test func aMissingDatabaseIsNamed() throws {
        let server = try PostgresTestServer.get()
        let error = #expect(throws: MetaError.self) { try MetaStores.open(server.url(database: "granary_no_such_db")) }
        guard case let .database(path, reason)? = error else {
            Issue.record("expected .database, got \(String(describing: error))")
            return
        }
        #expect(path.contains("/granary_no_such_db"))
        #expect(reason.contains("does not exist"), "\(reason)")
    }

    /// The server drops every connection of the store (a restart, a failover, an operator's
    /// pg_terminate_backend): the next calls reconnect and work.
    @Test func theStoreReconnectsAfterItsConnectionsAreDropped() throws {
        try Engine.postgres.withStore { store, db throws in
            _ = try store.mkdir(parent: .root, name: "before", mode: 0o755, uid: 0, gid: 0)
            // Several connections in the pool, all idle afterwards.
            onThreads(4) { i in _ = try? store.readdir(.root) }
            try db.execute(["""
                SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                WHERE datname = '\(db.databaseName)' AND pid <> pg_backend_pid()
                """])
            usleep(100_000)
            _ = try store.mkdir(parent: .root, name: "after", mode: 0o755, uid: 0, gid: 0)
            #expect(try store.readdir(.root).map(\.name) == ["after", "before"])
        }
    }

    /// A server that stops answering (here: a table held locked by another session) fails the
    /// call after `query_timeout`, with the connection dropped, instead of holding the caller.
    @Test func aStatementTheServerDoesNotAnswerFailsAfterTheQueryTimeout() throws {
        try Engine.postgres.withStore { store, db throws in
            _ = try store.mkdir(parent: .root, name: "a", mode: 0o755, uid: 0, gid: 0)
            let slow = try MetaStores.open(db.location + "&query_timeout=1")
            let holder = Thread {
                _ = try? db.execute(["BEGIN", "LOCK TABLE inodes IN ACCESS EXCLUSIVE MODE", "SELECT pg_sleep(8)", "COMMIT"])
            }
            holder.start()
            usleep(500_000)
            let start = Date()
            do {
                _ = try slow.lookup(parent: .root, name: "a")
                Issue.record("a lookup on a locked table answered")
            } catch {
                #expect("\(error)".contains("connection was lost"), "\(error)")
            }
            let waited = Date().timeIntervalSince(start)
            #expect(waited < 7, "the call waited \(waited) s with a 1 s query timeout")
        }
    }

    /// A database whose only content says a newer Granary owns it: refused, and nothing created.
    @Test func aNewerSchemaOnAnEmptyDatabaseCreatesNothing() throws {
        try Engine.postgres.withDatabase { db throws in
            try db.execute([
                "CREATE TABLE granary_schema (version bigint PRIMARY KEY, name text NOT NULL, applied_at double precision NOT NULL)",
                "INSERT INTO granary_schema (version, name, applied_at) VALUES (9, 'v9-future', 0)",
            ])
            #expect(throws: MetaError.newerSchema(path: MigrationTests.shown(db), found: 9, supported: PostgresMetaStore.supportedSchemaVersion)) {
                try db.open()
            }
            #expect(try db.integer("SELECT COUNT(*) FROM pg_tables WHERE schemaname = 'public'") == 1)
        }
    }
}
