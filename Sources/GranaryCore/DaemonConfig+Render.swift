/// Renders the TOML of single-role daemon configs, for tools that lay out a cluster on one machine
/// (`granary up`, test harnesses). What it writes is what `DaemonConfig.load` reads back.
extension DaemonConfig {
    public static func managerTOML(secretFile: String, listen: Endpoint, dataDir: String, heartbeatTimeoutMs: Int,
                                   repair: Repair = Repair(), health: HealthPolicy = HealthPolicy(), faultInjection: Bool = false,
                                   shared: SharedMeta? = nil) -> String {
        var text = """
        # Written by granary.
        roles = ["manager"]
        [cluster]
        secret_file = "\(secretFile)"
        managers = [\((shared?.managers ?? [listen]).map { "\"\($0)\"" }.joined(separator: ", "))]
        fault_injection = \(faultInjection)
        [manager]
        listen = "\(listen)"
        data_dir = "\(dataDir)"
        heartbeat_timeout_ms = \(heartbeatTimeoutMs)
        rebuild_mb_per_s = \(repair.rebuildMBps)
        down_out_ms = \(repair.downOutMs)
        repair_interval_ms = \(repair.intervalMs)
        scrub_interval_s = \(repair.scrubIntervalS)
        scrub_mb_per_s = \(repair.scrubMBps)
        gc_interval_s = \(repair.gcIntervalS)
        gc_grace_s = \(repair.gcGraceS)
        health_detect = \(health.detect)
        health_auto_evict = \(health.autoEvict)
        health_evict_after_s = \(health.evictAfterS)
        health_max_evictions_per_hour = \(health.maxEvictionsPerHour)
        health_auto_rejoin = \(health.autoRejoin)
        health_rejoin_after_s = \(health.rejoinAfterS)
        health_suspect_after_s = \(health.suspectAfterS)
        health_clear_after_s = \(health.clearAfterS)
        health_act_on_prediction = \(health.actOnPrediction)

        """
        if let shared {
            text += """
                meta = "\(shared.meta)"
                id = "\(shared.id)"
                lease_ms = \(shared.leaseMs)

                """
        }
        return text
    }

    /// A `[tls]` section for `settings` (appended to a config made above).
    public static func tlsTOML(_ settings: TLSSettings) -> String {
        var text = "\n[tls]\nca_file = \"\(settings.caFile)\"\n"
        if let cert = settings.certFile, let key = settings.keyFile { text += "cert_file = \"\(cert)\"\nkey_file = \"\(key)\"\n" }
        if !settings.verifyName { text += "verify_name = false\n" }
        if settings.requireClientCert { text += "require_client_cert = true\n" }
        return text
    }

    /// What a manager among several sharing one database needs in its config.
    public struct SharedMeta: Sendable {
        public var meta: String
        public var id: String
        public var managers: [Endpoint]
        public var leaseMs: Int

        public init(meta: String, id: String, managers: [Endpoint], leaseMs: Int = 5_000) {
            self.meta = meta
            self.id = id
            self.managers = managers
            self.leaseMs = leaseMs
        }
    }

    public static func storageTOML(secretFile: String, managers: [Endpoint], node: NodeID, listen: Endpoint,
                                   heartbeatIntervalMs: Int, drives: [Drive], injectReadLatencyMs: Int = 0, faultInjection: Bool = false) -> String {
        var text = """
            # Written by granary.
            roles = ["storage"]
            [cluster]
            secret_file = "\(secretFile)"
            managers = [\(managers.map { "\"\($0)\"" }.joined(separator: ", "))]
            fault_injection = \(faultInjection)
            [storage]
            node_id = "\(node)"
            listen = "\(listen)"
            heartbeat_interval_ms = \(heartbeatIntervalMs)

            """
        if injectReadLatencyMs > 0 { text += "inject_read_latency_ms = \(injectReadLatencyMs)\n" }
        for d in drives { text += "[[storage.drives]]\nname = \"\(d.name)\"\npath = \"\(d.path)\"\n" }
        return text
    }
}
