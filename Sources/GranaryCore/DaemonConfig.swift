/// The configuration of one `granaryd` process (TOML; see conf/granaryd.toml).
///
/// Guarantees, once `load` returns: every key was known, every value well-formed, every role named in
/// `roles` has its section, and every drive directory exists.
public struct DaemonConfig: Sendable, Equatable {
    public enum Role: String, Sendable, CaseIterable { case manager, storage }

    public struct Manager: Sendable, Equatable {
        public var listen: Endpoint
        public var dataDir: String
        /// A node with no heartbeat for this long is marked down.
        public var heartbeatTimeoutMs: Int = 5_000
        /// Rebuild, shrink, expand, scrub and garbage collection.
        public var repair = Repair()
        /// Fail-slow detection, suspect and evicted drives.
        public var health = HealthPolicy()
        /// Where the metadata lives: nil for the SQLite file `<data_dir>/meta.db`, or a
        /// `postgres://` URL that several managers share.
        public var meta: String?
        /// This manager's name among several (in logs, the leader lease, `granary cluster status`);
        /// nil: its listen address.
        public var id: String?
        /// How long the leader's lease on background work lasts unrenewed: a dead leader's work is
        /// taken over by another manager within about this long.
        public var leaseMs: Int = 5_000

        /// The name this manager goes by.
        public var name: String { id ?? listen.description }
    }

    /// How the manager keeps stripes whole: when it rebuilds, how fast, how often it scrubs.
    ///
    /// The defaults follow what large clusters do: a node that is merely down (a reboot, a
    /// network blip) is waited for ten minutes before its data is rebuilt elsewhere, as Ceph's
    /// `mon_osd_down_out_interval` does, while a failed or evicted drive is rebuilt at once; rebuild
    /// is throttled so training reads keep most of the bandwidth; a full scrub runs weekly.
    public struct Repair: Sendable, Equatable {
        /// Rebuild write rate limit, MB/s (10^6 bytes) of fragment bytes written.
        public var rebuildMBps: Int = 200
        /// A node down this long has its fragments rebuilt elsewhere (failed and drained drives: at once).
        public var downOutMs: Int = 600_000
        /// How often the scheduler looks for stripes to rebuild or expand.
        public var intervalMs: Int = 2_000
        /// Background scrub: one full pass this often, in seconds; 0 turns it off (`granary scrub` still works).
        public var scrubIntervalS: Int = 7 * 86_400
        /// Scrub read rate limit, MB/s of fragment bytes read.
        public var scrubMBps: Int = 50
        /// Garbage collection runs this often, in seconds.
        public var gcIntervalS: Int = 300
        /// Fragments of stripes reserved longer ago than this and never committed are deleted.
        public var gcGraceS: Int = 3_600

        public init() {}
    }

    public struct Drive: Sendable, Equatable {
        public var name: String
        public var path: String
        public init(name: String, path: String) {
            self.name = name
            self.path = path
        }
    }

    public struct Storage: Sendable, Equatable {
        public var nodeID: NodeID
        public var listen: Endpoint
        /// The address others reach this node at (defaults to `listen`).
        public var advertise: Endpoint
        public var heartbeatIntervalMs: Int = 1_000
        public var drives: [Drive]
        /// Testing and drills only: every chunk read is answered this much later (the node serves
        /// other requests meanwhile), as a slow drive or a distant node would be.
        public var injectReadLatencyMs: Int = 0
        /// `chunk_cache`: memory for whole chunks read recently, answered without a drive read or a
        /// copy (0 turns it off). A chunk is cached only when it is at most a quarter of this.
        public var chunkCacheBytes: Int = Storage.defaultChunkCacheBytes
        public static let defaultChunkCacheBytes = 256 << 20
    }

    public var file: String
    public var roles: [Role]
    public var secretFile: String
    public var managers: [Endpoint]
    public var manager: Manager?
    public var storage: Storage?
    public var transport: TransportSettings
    public var logLevel: String
    /// `fault_injection = true` in `[cluster]`: `granary drive inject` may slow or fail drives
    /// (tests and drills only; off by default, and both the manager and the node must have it).
    public var faultInjection: Bool = false
    /// Where Prometheus scrapes this daemon's metrics (`[metrics] listen`); nil: no endpoint.
    public var metricsListen: Endpoint?

    /// Reads and validates the config at `path`.
    /// Reads and validates the config at `path`. A config whose `manager.meta` URL carries a
    /// password must not be readable by group or others, like the cluster secret.
    public static func load(path: String) throws(ConfigError) -> DaemonConfig {
        let config = try parse(ConfigReader(path: path))
        if let meta = config.manager?.meta, Self.carriesPassword(meta), let mode = try? FileIO.mode(path), mode & 0o077 != 0 {
            throw .unsafePermissions(file: path, mode: String(mode & 0o7777, radix: 8), problem: .readableByOthers)
        }
        return config
    }

    /// Whether a metadata URL holds a password (`user:password@` or a `password=` parameter).
    static func carriesPassword(_ url: String) -> Bool {
        guard let scheme = url.range(of: "://") else { return false }
        let rest = url[scheme.upperBound...]
        let authority = rest.prefix { $0 != "/" && $0 != "?" }
        if let at = authority.lastIndex(of: "@"), authority[..<at].contains(":") { return true }
        guard let q = rest.firstIndex(of: "?") else { return false }
        return rest[rest.index(after: q)...].split(separator: "&").contains { $0.lowercased().hasPrefix("password=") }
    }

    public static func parse(text: String, file: String) throws(ConfigError) -> DaemonConfig {
        try parse(ConfigReader(text: text, file: file))
    }

    static func parse(_ r: ConfigReader) throws(ConfigError) -> DaemonConfig {
        let file = r.file
        let roleNames = try r.strings("roles") ?? []
        var roles: [Role] = []
        for name in roleNames {
            guard let role = Role(rawValue: name) else {
                throw .badValue(file: file, key: "roles", value: "\"\(name)\"", expected: "\"manager\" and/or \"storage\"")
            }
            if !roles.contains(role) { roles.append(role) }
        }
        if roles.isEmpty { throw .missingKey(file: file, key: "roles") }

        guard let cluster = try r.table("cluster") else { throw .missingKey(file: file, key: "cluster") }
        let secretFile = try cluster.requiredString("secret_file")
        let managers = try cluster.endpoints("managers") ?? []
        if managers.isEmpty { throw .missingKey(file: file, key: "cluster.managers") }

        var manager: Manager?
        if let m = try r.table("manager") {
            guard roles.contains(.manager) else {
                throw .badValue(file: file, key: "manager", value: "[manager]", expected: "\"manager\" in roles, or no [manager] section")
            }
            guard let listen = try m.endpoint("listen") else { throw .missingKey(file: file, key: "manager.listen") }
            let dataDir = try m.requiredString("data_dir")
            var mc = Manager(listen: listen, dataDir: dataDir)
            if let t = try m.int("heartbeat_timeout_ms", range: 100...3_600_000) { mc.heartbeatTimeoutMs = t }
            if let v = try m.int("rebuild_mb_per_s", range: 1...100_000) { mc.repair.rebuildMBps = v }
            if let v = try m.int("down_out_ms", range: 100...86_400_000) { mc.repair.downOutMs = v }
            if let v = try m.int("repair_interval_ms", range: 50...3_600_000) { mc.repair.intervalMs = v }
            if let v = try m.int("scrub_interval_s", range: 0...31_536_000) { mc.repair.scrubIntervalS = v }
            if let v = try m.int("scrub_mb_per_s", range: 1...100_000) { mc.repair.scrubMBps = v }
            if let v = try m.int("gc_interval_s", range: 1...86_400) { mc.repair.gcIntervalS = v }
            if let v = try m.int("gc_grace_s", range: 0...2_592_000) { mc.repair.gcGraceS = v }
            if let v = try m.bool("health_detect") { mc.health.detect = v }
            if let v = try m.bool("health_auto_evict") { mc.health.autoEvict = v }
            if let v = try m.int("health_evict_after_s", range: 0...2_592_000) { mc.health.evictAfterS = v }
            if let v = try m.int("health_max_evictions_per_hour", range: 0...1_000) { mc.health.maxEvictionsPerHour = v }
            if let v = try m.bool("health_auto_rejoin") { mc.health.autoRejoin = v }
            if let v = try m.int("health_rejoin_after_s", range: 0...2_592_000) { mc.health.rejoinAfterS = v }
            if let v = try m.double("health_suspect_after_s", range: 0...86_400) { mc.health.suspectAfterS = v }
            if let v = try m.double("health_clear_after_s", range: 0...86_400) { mc.health.clearAfterS = v }
            if let v = try m.bool("health_act_on_prediction") { mc.health.actOnPrediction = v }
            if let v = try m.string("meta") {
                if let scheme = v.range(of: "://").map({ String(v[..<$0.lowerBound]).lowercased() }),
                   !["postgres", "postgresql", "sqlite"].contains(scheme) {
                    throw .badValue(file: file, key: "manager.meta", value: scheme + "://…", expected: "a postgres:// URL or an SQLite file path")
                }
                mc.meta = v
            }
            if let v = try m.string("id") {
                guard !v.isEmpty, v.count <= 128, !v.contains(where: { $0.isWhitespace || $0 == "\"" }) else {
                    throw .badValue(file: file, key: "manager.id", value: v, expected: "1 to 128 characters, no spaces or quotes")
                }
                mc.id = v
            }
            if let v = try m.int("lease_ms", range: 500...600_000) { mc.leaseMs = v }
            manager = mc
        } else if roles.contains(.manager) {
            throw .missingKey(file: file, key: "manager")
        }

        var storage: Storage?
        if let s = try r.table("storage") {
            guard roles.contains(.storage) else {
                throw .badValue(file: file, key: "storage", value: "[storage]", expected: "\"storage\" in roles, or no [storage] section")
            }
            let idText = try s.requiredString("node_id")
            guard let nodeID = NodeID(idText) else {
                throw .badValue(file: file, key: "storage.node_id", value: "\"\(idText)\"", expected: "1-64 characters of A-Z a-z 0-9 . _ -")
            }
            guard let listen = try s.endpoint("listen", allowAnyPort: true) else { throw .missingKey(file: file, key: "storage.listen") }
            let advertise = try s.endpoint("advertise") ?? listen
            var drives: [Drive] = []
            for (i, d) in try s.tables("drives").enumerated() {
                let name = try d.requiredString("name")
                guard DriveID(node: nodeID, name: name) != nil else {
                    throw .badValue(file: file, key: "storage.drives[\(i)].name", value: "\"\(name)\"", expected: "1-64 characters of A-Z a-z 0-9 . _ -")
                }
                if drives.contains(where: { $0.name == name }) {
                    throw .badValue(file: file, key: "storage.drives[\(i)].name", value: "\"\(name)\"", expected: "a name not used by another drive")
                }
                let path = try d.requiredString("path")
                guard FileIO.isDirectory(path) else {
                    throw .missingDirectory(file: file, key: "storage.drives[\(i)].path", path: path)
                }
                drives.append(Drive(name: name, path: path))
            }
            if drives.isEmpty { throw .missingKey(file: file, key: "storage.drives") }
            var sc = Storage(nodeID: nodeID, listen: listen, advertise: advertise, drives: drives)
            if let h = try s.int("heartbeat_interval_ms", range: 10...600_000) { sc.heartbeatIntervalMs = h }
            if let l = try s.int("inject_read_latency_ms", range: 0...60_000) { sc.injectReadLatencyMs = l }
            if let v = try s.byteSize("chunk_cache", range: 0...(1 << 40)) { sc.chunkCacheBytes = Int(v.bytes) }
            storage = sc
        } else if roles.contains(.storage) {
            throw .missingKey(file: file, key: "storage")
        }

        let transport = try TransportSettings.read(from: r, cluster: cluster, daemon: true)
        let faultInjection = try cluster.bool("fault_injection") ?? false
        var level = "info"
        if let log = try r.table("log"), let l = try log.string("level") {
            guard LogLevelName.parse(l) != nil else {
                throw .badValue(file: file, key: "log.level", value: "\"\(l)\"", expected: LogLevelName.names)
            }
            level = l
        }
        var metricsListen: Endpoint?
        if let m = try r.table("metrics") {
            guard let listen = try m.endpoint("listen") else { throw .missingKey(file: file, key: "metrics.listen") }
            metricsListen = listen
        }
        try r.finish()
        var config = DaemonConfig(file: file, roles: roles, secretFile: secretFile, managers: managers, manager: manager,
                                  storage: storage, transport: transport, logLevel: level, faultInjection: faultInjection)
        config.metricsListen = metricsListen
        return config
    }
}
