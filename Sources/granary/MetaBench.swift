import ArgumentParser
import Foundation
import GranaryMeta
import GranaryTestSupport

/// `granary bench meta`: metadata operations per second on the SQLite engine and on the
/// PostgreSQL engine, in the same run, with the same small-file workload (`MetaWorkload`): creates
/// (`commitFiles` of one small file with its own stripe), lookups, getattr, whole-directory readdir
/// and `resolve(path:)`, each from `--threads` concurrent callers. SQLite is the baseline: `ratios`
/// holds PostgreSQL ops/s over SQLite ops/s per operation. The last line is one JSON object.
///
/// PostgreSQL is the server at `--postgres` (the tree is removed from it afterwards), else a
/// throwaway one (`PostgresTestServer`: `GRANARY_TEST_POSTGRES`, or a server started from Debian's
/// postgresql package with fsync off, stopped at exit). Guarantees: both engines run the identical
/// workload, every timed operation is checked against what was created, and the notes say how
/// each engine was set up to commit (fsync or not), since that decides the create figures.
///
/// A synchronous command on purpose: the store's calls block, and the bench runs them on threads
/// of its own (see `MetaWorkload`) while the main thread only waits for them.
struct MetaBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meta", abstract: "Metadata ops/s, SQLite vs PostgreSQL, on a small-file tree (creates, lookups, getattr, readdir, resolve).")

    @Option(help: "Directories in the tree.") var dirs = 20
    @Option(help: "Small files created in each directory.") var files = 100
    @Option(help: "Concurrent callers of the store in every phase.") var threads = 4
    @Option(help: "Seconds each read phase runs.") var seconds = 2.0
    @Option(help: "PostgreSQL database to use (postgres://user[:password]@host[:port]/database); the tree is removed from it after. Default: a throwaway server.")
    var postgres: String?
    @Option(help: "Directory to put the SQLite file's fresh directory in (default: $TMPDIR).") var dir: String?
    @Flag(help: "Print only the JSON result line.") var json = false

    /// One operation's figures on one engine.
    struct Figures: Codable {
        var ops: Int
        var seconds: Double
        var opsPerSecond: Double
        var p50Us: Double
        var p99Us: Double
    }

    /// One engine's figures and where it ran.
    struct Engine: Codable {
        var engine: String
        /// The database file, or the URL without its password.
        var location: String
        var ops: [String: Figures]
    }

    /// The JSON line: the workload, both engines' figures, the ratios and how each engine was set
    /// up (the notes), so a figure is never read without knowing what it measured.
    struct Result: Codable {
        var bench = "meta"
        var build: String
        var cores: Int
        var dirs: Int
        var filesPerDir: Int
        var files: Int
        var threads: Int
        var secondsPerReadPhase: Double
        var layout: String
        var baseline = "SQLite engine (WAL, synchronous = FULL), same run, same workload"
        var sqlite: Engine
        var postgres: Engine
        /// PostgreSQL ops/s / SQLite ops/s, per operation.
        var ratios: [String: Double]
        var notes: [String]
    }

    #if DEBUG
    static let build = "debug"
    #else
    static let build = "release"
    #endif

    func validate() throws {
        guard dirs >= 1, files >= 1, threads >= 1 else { throw ValidationError("--dirs, --files and --threads must be at least 1") }
        guard seconds > 0, seconds <= 600 else { throw ValidationError("--seconds must be between 0 and 600") }
        if let url = postgres, !url.lowercased().hasPrefix("postgres://"), !url.lowercased().hasPrefix("postgresql://") {
            throw ValidationError("--postgres: expected a postgres:// URL, got \(MetaStores.redacted(url))")
        }
    }

    func progress(_ s: String) { FileHandle.standardError.write(Data(("bench meta: " + s + "\n").utf8)) }

    func run() throws {
        let workload = MetaWorkload(dirs: dirs, files: files, threads: threads, seconds: seconds, top: "meta-bench-\(getpid())")
        let cores = ProcessInfo.processInfo.activeProcessorCount

        // SQLite: a fresh file in a fresh directory, removed after.
        let base = dir ?? NSTemporaryDirectory()
        let sqliteDir = (base.hasSuffix("/") ? base : base + "/") + "granary-meta-bench-\(getpid())"
        try? FileManager.default.removeItem(atPath: sqliteDir)
        do { try FileManager.default.createDirectory(atPath: sqliteDir, withIntermediateDirectories: true) } catch {
            throw CLIError("bench meta: cannot create \(sqliteDir) for the SQLite file: \(error.localizedDescription)")
        }
        defer { try? FileManager.default.removeItem(atPath: sqliteDir) }
        let sqlitePath = sqliteDir + "/meta.db"
        progress("SQLite at \(sqlitePath)")
        let sqliteOps = try runEngine("sqlite", location: sqlitePath, workload: workload, removeAfter: false)

        // PostgreSQL: the given database, or a fresh database on a throwaway server.
        var notes: [String] = []
        let postgresLocation: String
        let postgresOps: [String: Figures]
        if let url = postgres {
            postgresLocation = MetaStores.redacted(url)
            progress("PostgreSQL at \(postgresLocation)")
            postgresOps = try runEngine("postgres", location: url, workload: workload, removeAfter: true)
            notes.append("PostgreSQL: the server at \(postgresLocation), durability settings (fsync, synchronous_commit) as its operator set them, not checked by the bench")
        } else {
            let server: PostgresTestServer
            do { server = try PostgresTestServer.get() } catch {
                throw CLIError("bench meta: no PostgreSQL to compare against: \(error) (or pass --postgres URL)")
            }
            var shown = ""
            do {
                postgresOps = try PostgresTestServer.withDatabase { url in
                    shown = MetaStores.redacted(url)
                    progress("PostgreSQL at \(shown)" + (server.ownServer ? " (a throwaway server)" : " (GRANARY_TEST_POSTGRES)"))
                    return try runEngine("postgres", location: url, workload: workload, removeAfter: false)
                }
            } catch let e as CLIError { throw e } catch {
                throw CLIError("bench meta: PostgreSQL at \(server.host):\(server.port): \(error)")
            }
            postgresLocation = shown
            if server.ownServer {
                notes.append("PostgreSQL: a throwaway server on loopback started for this run with fsync=off, synchronous_commit=off, "
                    + "full_page_writes=off: its commits are not durable, which flatters its creates against SQLite's fsynced ones")
            } else {
                notes.append("PostgreSQL: the GRANARY_TEST_POSTGRES server, durability settings as its operator set them, not checked by the bench")
            }
        }
        notes.append("SQLite: WAL with synchronous = FULL, so every create's commit fsyncs the WAL (file in \(sqliteDir), removed after); "
            + "one writer at a time, readers in parallel")
        notes.append("PostgreSQL: every call is its own SERIALIZABLE transaction over TCP (up to \(max(8, threads)) connections); "
            + "creates in one directory take its advisory lock")
        notes.append("creates: commitFiles of one \(MetaWorkload.layout.k)+\(MetaWorkload.layout.m) stripe and one file of 4-64 KiB each; "
            + "stripe ids reserved beforehand in one untimed allocateStripes call; the importer packs small files into shared stripes, "
            + "so it commits fewer, larger transactions than this")
        notes.append("\(threads) callers (threads) per phase on \(cores) cores, the PostgreSQL server on the same machine; \(Self.build) build")

        var ratios: [String: Double] = [:]
        for op in MetaWorkload.operations {
            if let s = sqliteOps[op], let p = postgresOps[op], s.opsPerSecond > 0 { ratios[op] = round3(p.opsPerSecond / s.opsPerSecond) }
        }
        let result = Result(build: Self.build, cores: cores, dirs: dirs, filesPerDir: files, files: workload.total, threads: threads,
                            secondsPerReadPhase: seconds, layout: MetaWorkload.layout.description,
                            sqlite: Engine(engine: "sqlite", location: sqlitePath, ops: sqliteOps.mapValues(rounded)),
                            postgres: Engine(engine: "postgres", location: postgresLocation, ops: postgresOps.mapValues(rounded)),
                            ratios: ratios, notes: notes)
        if !json {
            let rows = MetaWorkload.operations.map { op -> [String] in
                let s = sqliteOps[op], p = postgresOps[op]
                return [op, s.map { String(format: "%.0f", $0.opsPerSecond) } ?? "-", p.map { String(format: "%.0f", $0.opsPerSecond) } ?? "-",
                        ratios[op].map { String(format: "%.3f", $0) } ?? "-",
                        s.map { String(format: "%.0f / %.0f", $0.p50Us, $0.p99Us) } ?? "-",
                        p.map { String(format: "%.0f / %.0f", $0.p50Us, $0.p99Us) } ?? "-"]
            }
            print("metadata engines: \(dirs) directories x \(files) files, \(threads) callers, \(seconds) s per read phase (\(Self.build) build, \(cores) cores)")
            print(Output.table(["op", "SQLite ops/s", "PostgreSQL ops/s", "PG/SQLite", "SQLite p50/p99 µs", "PostgreSQL p50/p99 µs"], rows))
            for n in notes { print("note: " + n) }
        }
        print(Output.jsonLine(result))
    }

    /// Opens the store at `location`, runs the workload, and with `removeAfter` removes the tree.
    /// The store is closed when this returns (before its file or database goes).
    private func runEngine(_ engine: String, location: String, workload: MetaWorkload, removeAfter: Bool) throws -> [String: Figures] {
        let store: any MetaStore
        do {
            // More connections than callers, so PostgreSQL's pool never queues the bench's calls.
            store = engine == "postgres"
                ? try PostgresMetaStore(url: location, maxConnections: max(8, threads)) : try MetaStores.open(location)
        } catch {
            throw CLIError("bench meta: cannot open \(engine) at \(MetaStores.redacted(location)): \(error)")
        }
        let figures = try workload.run(on: store, engine: engine) { progress($0) }
        if removeAfter {
            progress("\(engine): removing the tree")
            try workload.remove(from: store, engine: engine)
        }
        return figures
    }

    private func round3(_ v: Double) -> Double { (v * 1000).rounded() / 1000 }

    private func rounded(_ f: Figures) -> Figures {
        Figures(ops: f.ops, seconds: round3(f.seconds), opsPerSecond: (f.opsPerSecond * 10).rounded() / 10,
                p50Us: (f.p50Us * 10).rounded() / 10, p99Us: (f.p99Us * 10).rounded() / 10)
    }
}
