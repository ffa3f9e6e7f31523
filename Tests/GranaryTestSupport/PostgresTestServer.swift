import Foundation
import GranaryTransport
import Logging
import PostgresNIO
import Synchronization

/// The PostgreSQL server this test process runs the PostgreSQL half of the conformance suite on.
///
/// With `GRANARY_TEST_POSTGRES` set (a `postgres://` URL of a role allowed to create databases),
/// that server is used. Otherwise a throwaway server is started once per process: `initdb` (trust
/// authentication, plus password authentication for the role `granary_pw` so logins can fail)
/// into a fresh directory under /tmp, on a free loopback port with its Unix socket in that
/// directory — as the `postgres` system user when the tests run as root, since PostgreSQL refuses
/// to run as root — and stopped with its directory removed when the process exits (by `atexit`,
/// and by a watchdog shell should the process die without running it). Without server binaries
/// and without the variable, every PostgreSQL test fails saying to run ops/install-deps.sh.
///
/// Each test gets its own database (`withDatabase`), so tests run in parallel.
public final class PostgresTestServer: Sendable {
    public let host: String
    public let port: Int
    public let user: String
    public let password: String?
    /// The database administrative statements connect to.
    public let adminDatabase: String
    /// Whether this process started the server (then the role `granary_pw` logs in by password).
    public let ownServer: Bool

    /// The role that must log in with `passwordUserSecret` (only on a server this process started).
    public static let passwordUser = "granary_pw"
    public static let passwordUserSecret = "s3cret-Pa55"

    init(host: String, port: Int, user: String, password: String?, adminDatabase: String, ownServer: Bool) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.adminDatabase = adminDatabase
        self.ownServer = ownServer
    }

    public static let shared: Result<PostgresTestServer, TestSetupError> = {
        do { return .success(try start()) } catch let e as TestSetupError { return .failure(e) } catch {
            return .failure(TestSetupError("cannot start a PostgreSQL server for the tests: \(error)"))
        }
    }()

    public static func get() throws -> PostgresTestServer { try shared.get() }

    private static let counter = Atomic<Int>(0)

    /// A fresh empty database for `body` (its URL), dropped afterwards.
    public static func withDatabase<T>(owner: String? = nil, _ body: (String) throws -> T) throws -> T {
        let server = try get()
        let name = "granary_t\(getpid())_\(counter.wrappingAdd(1, ordering: .relaxed).newValue)"
        try server.execute(["CREATE DATABASE \(name)" + (owner.map { " OWNER \($0)" } ?? "")])
        defer { _ = try? server.execute(["DROP DATABASE IF EXISTS \(name) WITH (FORCE)"]) }
        return try body(server.url(database: name))
    }

    /// `withDatabase` for async bodies; the URL names `host` when given (see `url`).
    public static func withDatabaseAsync<T>(host: String? = nil, _ body: (String) async throws -> T) async throws -> T {
        let server = try get()
        let name = "granary_t\(getpid())_\(counter.wrappingAdd(1, ordering: .relaxed).newValue)"
        try server.execute(["CREATE DATABASE \(name)"])
        defer { _ = try? server.execute(["DROP DATABASE IF EXISTS \(name) WITH (FORCE)"]) }
        return try await body(server.url(database: name, host: host))
    }

    /// The addresses test hosts in network namespaces get (`NetnsHosts`); the server lets them in.
    public static let namespaceSubnet = "10.231.0.0/16"

    /// The URL of `database` on this server, as the admin role (or as `user`/`password`), at
    /// `host` (default: the address the server was found at; a namespace host uses its bridge's).
    public func url(database: String, user: String? = nil, password: String? = nil, host: String? = nil) -> String {
        let u = user ?? self.user
        let p = user == nil ? self.password : password
        let enc: (String) -> String = { $0.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? $0 }
        let auth = enc(u) + (p.map { ":" + enc($0) } ?? "")
        return "postgres://\(auth)@\(host ?? self.host):\(port)/\(database)?sslmode=disable"
    }

    /// Runs `statements` in order as the admin role on `database` (the admin database by default)
    /// and returns the rows of the last one.
    @discardableResult
    public func execute(_ statements: [String], database: String? = nil) throws -> [PostgresRandomAccessRow] {
        var config = PostgresConnection.Configuration(host: host, port: port, username: user, password: password,
                                                      database: database ?? adminDatabase, tls: .disable)
        config.options.connectTimeout = .seconds(10)
        let logger = Logger(label: "granary.tests.postgres", factory: { _ in SwiftLogNoOpLogHandler() })
        let connection = try PostgresConnection.connect(on: PostgresConnection.defaultEventLoopGroup.next(), configuration: config,
                                                        id: 0, logger: logger).wait()
        defer { _ = try? connection.close().wait() }
        var last: [PostgresRandomAccessRow] = []
        for sql in statements {
            do {
                last = try connection.query(PostgresQuery(unsafeSQL: sql), logger: logger).wait().rows.map { $0.makeRandomAccess() }
            } catch let e as PSQLError {
                throw TestSetupError("\(sql): \(e.serverInfo?[.message] ?? String(reflecting: e))")
            }
        }
        return last
    }

    // MARK: Starting one

    private static func start() throws -> PostgresTestServer {
        if let text = ProcessInfo.processInfo.environment["GRANARY_TEST_POSTGRES"], !text.isEmpty {
            guard let c = URLComponents(string: text), let host = c.host, let user = c.user else {
                throw TestSetupError("GRANARY_TEST_POSTGRES is not a postgres://user[:password]@host[:port]/database URL")
            }
            let db = c.path.hasPrefix("/") ? String(c.path.dropFirst()) : c.path
            return PostgresTestServer(host: host, port: c.port ?? 5432, user: user, password: c.password,
                                      adminDatabase: db.isEmpty ? "postgres" : db, ownServer: false)
        }
        let bin = try binDirectory()
        let dir = try makeTempDir()
        let asRoot = getuid() == 0
        // PostgreSQL refuses to run as root: run it as the postgres system user, owning the directory.
        let prefix = asRoot ? ["/usr/sbin/runuser", "-u", "postgres", "--"] : []
        if asRoot {
            guard let pw = getpwnam("postgres") else {
                throw TestSetupError("the tests run as root but there is no 'postgres' system user to run PostgreSQL as: run ops/install-deps.sh")
            }
            guard chown(dir, pw.pointee.pw_uid, pw.pointee.pw_gid) == 0 else { throw TestSetupError("cannot chown \(dir) to postgres") }
        }
        let data = dir + "/data"
        try run(prefix + [bin + "/initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"])
        let hba = data + "/pg_hba.conf"
        let rules = try String(contentsOfFile: hba, encoding: .utf8)
        // Managers in network-namespace test hosts (10.231.0.0/16, see NetnsHosts) reach the server
        // through their bridge; nothing else but loopback is let in.
        try ("host all \(passwordUser) 127.0.0.1/32 scram-sha-256\n" + rules + "host all all \(namespaceSubnet) trust\n")
            .write(toFile: hba, atomically: false, encoding: .utf8)
        var lastError: (any Error)?
        for _ in 0..<3 {
            let port = try freePort()
            let options = "-c listen_addresses=0.0.0.0 -p \(port) -k \(dir) -c fsync=off -c synchronous_commit=off "
                + "-c full_page_writes=off -c max_connections=300 -c shared_buffers=64MB"
            do {
                try run(prefix + [bin + "/pg_ctl", "-D", data, "-l", dir + "/server.log", "-w", "-t", "60", "-o", options, "start"])
            } catch {
                lastError = error
                continue
            }
            let stop = (prefix + [bin + "/pg_ctl", "-D", data, "-m", "immediate", "stop"]).map(shellQuoted).joined(separator: " ")
                + " >/dev/null 2>&1; rm -rf \(shellQuoted(dir))"
            registerStop(stop)
            let server = PostgresTestServer(host: "127.0.0.1", port: port, user: "postgres", password: nil,
                                            adminDatabase: "postgres", ownServer: true)
            try server.execute(["CREATE ROLE \(passwordUser) LOGIN PASSWORD '\(passwordUserSecret)'"])
            return server
        }
        throw TestSetupError("cannot start PostgreSQL in \(dir): \(lastError.map { "\($0)" } ?? "unknown error")")
    }

    /// The newest /usr/lib/postgresql/*/bin holding initdb and pg_ctl.
    private static func binDirectory() throws -> String {
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).sorted {
            (Int($0) ?? 0, $0) > (Int($1) ?? 0, $1)
        }
        for v in versions {
            let bin = "\(root)/\(v)/bin"
            if ["initdb", "pg_ctl", "postgres"].allSatisfy({ FileManager.default.isExecutableFile(atPath: bin + "/" + $0) }) {
                return bin
            }
        }
        throw TestSetupError("""
            no PostgreSQL server found (initdb, pg_ctl and postgres under /usr/lib/postgresql/*/bin): run ops/install-deps.sh, \
            which installs Debian's postgresql package, or set GRANARY_TEST_POSTGRES=postgres://user@host:port/database \
            to use a running server
            """)
    }

    private static func makeTempDir() throws -> String {
        var template = Array("/tmp/granary-pg-XXXXXX".utf8CString)
        return try template.withUnsafeMutableBufferPointer { buf in
            guard let base = buf.baseAddress, mkdtemp(base) != nil else { throw TestSetupError("mkdtemp failed") }
            return String(cString: base)
        }
    }

    /// A loopback TCP port nothing listens on right now (below the ephemeral range: see
    /// `LoopbackStream.freePort`).
    public static func freePort() throws -> Int {
        do { return Int(try LoopbackStream.freePort()) } catch { throw TestSetupError("cannot find a free loopback port: \(error)") }
    }

    /// Runs a command, throwing its output when it fails. Through `system` (fork, exec, waitpid),
    /// not Foundation's `Process`: its `waitUntilExit` needs a Dispatch worker thread to learn of
    /// the exit, and on Linux those are the very threads Swift Testing runs (and here blocks) tests on.
    private static func run(_ args: [String]) throws {
        let output = "/tmp/granary-pg-cmd-\(getpid())-\(counter.wrappingAdd(1, ordering: .relaxed).newValue).log"
        defer { unlink(output) }
        let status = system(args.map(shellQuoted).joined(separator: " ") + " >\(output) 2>&1 </dev/null")
        guard status == 0 else {
            let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
            throw TestSetupError("\(args.joined(separator: " ")) failed (status \(status)): \(text)")
        }
    }

    private static func shellQuoted(_ s: String) -> String {
        "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// Stops the server when this process exits: at `exit` (normal end of the test run), and from
    /// a detached watchdog shell that outlives a crashed or killed test process.
    private static func registerStop(_ command: String) {
        stopCommand.withLock { $0 = command }
        atexit {
            stopCommand.withLock { command in
                if let c = command { _ = system(c) }
                command = nil
            }
        }
        let watch = "while kill -0 \(getpid()) 2>/dev/null; do sleep 1; done; \(command)"
        _ = system("/usr/bin/setsid /bin/sh -c \(shellQuoted(watch)) >/dev/null 2>&1 </dev/null &")
    }
}

/// The shell command that stops the server this process started, until it has run.
private let stopCommand = Mutex<String?>(nil)

/// Why a test could not set up what it needs (a temporary directory, a database server): the
/// message says what failed and, where it can, what to install.
public struct TestSetupError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}
