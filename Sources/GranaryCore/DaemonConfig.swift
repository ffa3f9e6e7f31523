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
    }

    public var file: String
    public var roles: [Role]
    public var secretFile: String
    public var managers: [Endpoint]
    public var manager: Manager?
    public var storage: Storage?
    public var transport: TransportSettings
    public var logLevel: String

    /// Reads and validates the config at `path`.
    public static func load(path: String) throws(ConfigError) -> DaemonConfig {
        try parse(ConfigReader(path: path))
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
            storage = sc
        } else if roles.contains(.storage) {
            throw .missingKey(file: file, key: "storage")
        }

        let transport = try TransportSettings.read(from: r)
        var level = "info"
        if let log = try r.table("log"), let l = try log.string("level") {
            guard LogLevelName.parse(l) != nil else {
                throw .badValue(file: file, key: "log.level", value: "\"\(l)\"", expected: LogLevelName.names)
            }
            level = l
        }
        try r.finish()
        return DaemonConfig(file: file, roles: roles, secretFile: secretFile, managers: managers, manager: manager,
                            storage: storage, transport: transport, logLevel: level)
    }
}
