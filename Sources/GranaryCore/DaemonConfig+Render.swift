/// Renders the TOML of single-role daemon configs, for tools that lay out a cluster on one machine
/// (`granary up`, test harnesses). What it writes is what `DaemonConfig.load` reads back.
extension DaemonConfig {
    public static func managerTOML(secretFile: String, listen: Endpoint, dataDir: String, heartbeatTimeoutMs: Int,
                                   repair: Repair = Repair()) -> String {
        """
        # Written by granary.
        roles = ["manager"]
        [cluster]
        secret_file = "\(secretFile)"
        managers = ["\(listen)"]
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

        """
    }

    public static func storageTOML(secretFile: String, managers: [Endpoint], node: NodeID, listen: Endpoint,
                                   heartbeatIntervalMs: Int, drives: [Drive], injectReadLatencyMs: Int = 0) -> String {
        var text = """
            # Written by granary.
            roles = ["storage"]
            [cluster]
            secret_file = "\(secretFile)"
            managers = [\(managers.map { "\"\($0)\"" }.joined(separator: ", "))]
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
