#if canImport(Glibc)
import Glibc
#endif
import GranaryCore
import Testing
@testable import granary_fuzz_config

/// The config fuzzer's inputs kept as regression tests (ops/fuzz/regressions/config;
/// docs/OPERATIONS.md, "Fuzzing"). Every file there goes through the fuzz target's own checks
/// (`ConfigFuzz.check`: parsed as a daemon config and as a client config): it must parse or be
/// refused with a `ConfigError` that says where, never crash. The seeds (`seed-*`, also the
/// fuzzer's starting corpus in ops/fuzz/corpus/config) must moreover be exactly the texts below and
/// parse to the configs they describe. `GRANARY_FUZZ_WRITE_SEEDS=1 swift test --filter
/// ConfigFuzzRegressionTests` rewrites the seed files from this table.
// Serialized: with GRANARY_FUZZ_WRITE_SEEDS set, the seed test rewrites files the other one reads.
@Suite(.serialized) struct ConfigFuzzRegressionTests {
    static let root = String(#filePath.prefix(upTo: #filePath.range(of: "/Tests/")!.lowerBound))
    static let regressions = root + "/ops/fuzz/regressions/config"
    static let corpus = root + "/ops/fuzz/corpus/config"

    struct Seed: Sendable {
        var name: String
        var text: String
        /// What the parse must give.
        var expect: @Sendable (ConfigFuzz) -> Bool
    }

    static func daemon(_ run: ConfigFuzz) -> DaemonConfig? { try? run.daemon.get() }
    static func client(_ run: ConfigFuzz) -> ClientConfig? { try? run.client?.get() }
    /// Refused for an unknown or missing `key`.
    static func refused(_ result: Result<some Any, ConfigError>?, naming key: String) -> Bool {
        switch result {
        case let .failure(.unknownKey(_, k))?, let .failure(.missingKey(_, k))?: return k == key
        default: return false
        }
    }

    /// A client config file of the test's own (the tests run in parallel).
    static func clientPath(_ test: String) -> String { "/tmp/granary-fuzz-config-\(getpid())-\(test).toml" }

    static let seeds: [Seed] = [
        // conf/granaryd.toml without its comments, its drives on directories every machine has.
        Seed(name: "seed-granaryd-example.toml", text: """
            roles = ["manager", "storage"]

            [cluster]
            secret_file = "/etc/granary/cluster.secret"
            managers = ["127.0.0.1:7400"]

            [manager]
            listen = "127.0.0.1:7400"
            data_dir = "/var/lib/granary/manager"
            lease_ms = 5000
            heartbeat_timeout_ms = 5000
            down_out_ms = 600000
            rebuild_mb_per_s = 200
            repair_interval_ms = 2000
            scrub_interval_s = 604800
            scrub_mb_per_s = 50
            gc_interval_s = 300
            gc_grace_s = 3600
            health_detect = true
            health_suspect_after_s = 30
            health_clear_after_s = 60
            health_auto_evict = true
            health_evict_after_s = 300
            health_max_evictions_per_hour = 2
            health_auto_rejoin = false
            health_rejoin_after_s = 3600
            health_act_on_prediction = true

            [storage]
            node_id = "node-1"
            listen = "0.0.0.0:7401"
            advertise = "127.0.0.1:7401"
            heartbeat_interval_ms = 1000
            inject_read_latency_ms = 0

            [[storage.drives]]
            name = "d0"
            path = "/tmp"

            [[storage.drives]]
            name = "d1"
            path = "/"

            [transport]
            max_frame = "64MiB"
            connect_timeout_ms = 3000
            request_timeout_ms = 30000
            auth_timeout_ms = 5000

            [log]
            level = "info"

            [metrics]
            listen = "127.0.0.1:9400"

            """) { run in
            guard let c = daemon(run) else { return false }
            return c.roles == [.manager, .storage] && c.managers == [Endpoint(host: "127.0.0.1", port: 7400)]
                && c.manager?.leaseMs == 5_000 && c.manager?.repair.scrubIntervalS == 604_800 && c.manager?.health.suspectAfterS == 30
                && c.storage?.drives == [DaemonConfig.Drive(name: "d0", path: "/tmp"), DaemonConfig.Drive(name: "d1", path: "/")]
                && c.storage?.advertise == Endpoint(host: "127.0.0.1", port: 7401) && c.transport.maxFrameBytes == 64 << 20
                && c.metricsListen == Endpoint(host: "127.0.0.1", port: 9400)
                && refused(run.client, naming: "log")
        },
        Seed(name: "seed-manager-postgres.toml", text: """
            roles = ["manager"]
            [cluster]
            secret_file = "/s"
            managers = ["[::1]:7400", "mgr-b.example:7400"]
            transport = "rdma"
            fault_injection = true
            [manager]
            listen = "[::1]:7400"
            data_dir = "/m"
            meta = "postgres://granary:pw@db1:5432/granary"
            id = "mgr-a"
            lease_ms = 2500
            health_suspect_after_s = 0.5
            health_clear_after_s = 2
            [transport]
            max_frame = 1048576
            [log]
            level = "debug"

            """) { run in
            guard let c = daemon(run), let m = c.manager else { return false }
            return c.roles == [.manager] && c.storage == nil && c.transport.kind == .rdma && c.faultInjection
                && c.managers == [Endpoint(host: "::1", port: 7400), Endpoint(host: "mgr-b.example", port: 7400)]
                && m.meta == "postgres://granary:pw@db1:5432/granary" && m.name == "mgr-a" && m.leaseMs == 2_500
                && m.health.suspectAfterS == 0.5 && c.transport.maxFrameBytes == 1 << 20 && c.logLevel == "debug"
        },
        Seed(name: "seed-storage.toml", text: """
            roles = ["storage", "storage"]
            [cluster]
            secret_file = "/s"
            managers = ["127.0.0.1:7400"]
            [storage]
            node_id = "n.2_b-3"
            listen = "127.0.0.1:0"
            heartbeat_interval_ms = 250
            inject_read_latency_ms = 7
            [[storage.drives]]
            name = "only"
            path = "/tmp"

            """) { run in
            guard let c = daemon(run), let s = c.storage else { return false }
            return c.roles == [.storage] && c.manager == nil && s.nodeID == NodeID("n.2_b-3") && s.listen.port == 0
                && s.advertise == s.listen && s.heartbeatIntervalMs == 250 && s.injectReadLatencyMs == 7
                && s.drives == [DaemonConfig.Drive(name: "only", path: "/tmp")]
        },
        // conf/client.toml without its comments.
        Seed(name: "seed-client-example.toml", text: """
            [cluster]
            managers = ["127.0.0.1:7400"]
            secret_file = "/etc/granary/cluster.secret"

            [transport]
            request_timeout_ms = 30000

            [cache]
            policy = "learned"
            memory = "512MiB"
            dir = "/var/cache/granary"
            disk = "10GiB"
            min_free_ratio = 0.1
            block = "1MiB"
            prefetch_concurrency = 32
            trace_capacity = 65536
            lock_memory = true

            """) { run in
            guard let c = client(run) else { return false }
            return c.managers == [Endpoint(host: "127.0.0.1", port: 7400)] && c.secretFile == "/etc/granary/cluster.secret"
                && c.cache.policy == .learned && c.cache.memoryBytes == 512 << 20 && c.cache.directory == "/var/cache/granary"
                && c.cache.diskBytes == 10 << 30 && c.cache.blockBytes == 1 << 20 && c.cache.traceCapacity == 65_536
                && refused(run.daemon, naming: "roles")
        },
        Seed(name: "seed-client-minimal.toml", text: """
            [cluster]
            managers = ["10.0.0.1:7400", "10.0.0.2:7400"]
            secret_file = "/home/u/.config/granary/secret"
            transport = "rdma"
            [cache]
            policy = "hinted"
            dir = ""
            memory = 0
            min_free_ratio = 0

            """) { run in
            guard let c = client(run) else { return false }
            return c.managers.count == 2 && c.transport.kind == .rdma && c.cache.policy == .hinted
                && c.cache.directory == nil && c.cache.memoryBytes == 0 && c.cache.minFreeRatio == 0
        },
    ]

    /// Rewrites the seed files from the table (with GRANARY_FUZZ_WRITE_SEEDS set).
    static func writeSeeds() throws {
        for dir in [regressions, corpus] {
            try FileIO.makeDirectories(dir)
            for seed in seeds { try FileIO.writeAtomically("\(dir)/\(seed.name)", seed.text) }
        }
    }

    static func files(in dir: String) -> [String] {
        guard let d = opendir(dir) else { return [] }
        defer { closedir(d) }
        var names: [String] = []
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
            if !name.hasPrefix(".") { names.append(name) }
        }
        return names.sorted()
    }

    @Test func seedsAreTheirTextsAndParse() throws {
        if getenv("GRANARY_FUZZ_WRITE_SEEDS") != nil { try Self.writeSeeds() }
        let path = Self.clientPath("seeds")
        defer { unlink(path) }
        for seed in Self.seeds {
            for dir in [Self.regressions, Self.corpus] {
                let bytes = try FileIO.readBytes("\(dir)/\(seed.name)")
                #expect(bytes == Array(seed.text.utf8), "\(dir)/\(seed.name) is not the seed's text (rewrite with GRANARY_FUZZ_WRITE_SEEDS=1)")
            }
            let run = ConfigFuzz.check(Array(seed.text.utf8), clientPath: path)
            #expect(run.problems.isEmpty, "\(seed.name): \(run.problems)")
            #expect(seed.expect(run), "\(seed.name): daemon \(run.daemon), client \(String(describing: run.client))")
        }
    }

    /// toml++ asserted (aborting the process) on a table header whose key starts with a character
    /// no key starts with, and on unquoted values it took for dates or times; TOMLPrecheck refuses
    /// those as syntax errors, on the right line, and leaves valid TOML to the parser.
    @Test func inputsTheTOMLParserAssertedOnAreSyntaxErrors() throws {
        for (text, line) in [("[!]\n", 1), ("roles = [\"storage\"]\n[\n", 2), ("[[ .drives]]\n", 1), ("\u{FEFF}[#]\n", 1),
                             ("[a]\n[\r\n", 2), ("[\u{FFFD}cluster]\n", 1), ("[[[a]]]\n", 1), ("\t [ é ]\n", 1),
                             ("e=0989-05-27T:", 1), ("a = 1\nb = [1, 1979-05-27T07:32:00Z]\n", 2), ("x = { y = 07:32:00 }\n", 1),
                             ("level = info\n", 1)] {
            do {
                _ = try DaemonConfig.parse(text: text, file: "f.toml")
                Issue.record("\(text.debugDescription) was accepted")
            } catch {
                guard case let .syntax(file, l, _, reason) = error else {
                    Issue.record("\(text.debugDescription): \(error)")
                    continue
                }
                #expect(file == "f.toml" && l == line && (reason.contains("table header") || reason.contains("unquoted value")),
                        "\(text.debugDescription): \(error)")
            }
        }
        // Left to the parser: valid headers and values (strings holding anything), and the errors it
        // reports itself.
        let valid = """
            roles = ["storage"]
            [ "log" ]
            a = '''
            [!] 1979-05-27T:'''
            b = [ [1, -2.5e3], { c = "]#", d = [ ] }, inf, -nan, true, 0xff, +1_000 ]  # [!]
            """
        #expect(throws: ConfigError.missingKey(file: "f.toml", key: "cluster")) { try DaemonConfig.parse(text: valid, file: "f.toml") }
        #expect(throws: ConfigError.missingKey(file: "f.toml", key: "roles")) { try DaemonConfig.parse(text: "[\tlog ]\nlevel = 1\n", file: "f.toml") }
        for text in ["[", "[]\n", "[ [a]]\n", "a = 1_\n"] {
            #expect(throws: ConfigError.self, "\(text.debugDescription)") { try DaemonConfig.parse(text: text, file: "f.toml") }
        }
    }

    /// Every kept input: parsed or refused saying where, never a crash.
    @Test func everyRegressionInputParsesOrIsRefused() throws {
        let path = Self.clientPath("regressions")
        defer { unlink(path) }
        let names = Self.files(in: Self.regressions)
        #expect(names.count >= Self.seeds.count)
        for name in names {
            let run = ConfigFuzz.check(try FileIO.readBytes("\(Self.regressions)/\(name)"), clientPath: path)
            #expect(run.problems.isEmpty, "\(name): \(run.problems)")
        }
    }
}
