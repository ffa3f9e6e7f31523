import Metrics
import GranaryCore

/// The manager's gauges, refreshed once a second while it runs: whether it leads, the cluster map's
/// version, nodes and drives by state, drives by health, stripes degraded and shrunk, and a
/// rebuild pass's progress. Recorded through swift-metrics, so they cost nothing unless the daemon
/// installed a backend (`[metrics] listen`).
///
/// Guarantees: every state label is written on every refresh (0 where no node or drive is in it),
/// so a state that empties drops to 0 instead of keeping its last count.
enum ManagerMetrics {
    static func refresh(leading: Bool, map: ClusterMap, repair: RepairStatus?) {
        Gauge(label: "granary_manager_leader").record(leading ? 1 : 0)
        Gauge(label: "granary_cluster_map_version").record(Double(map.version))
        for state in NodeState.allCases {
            Gauge(label: "granary_nodes", dimensions: [("state", state.rawValue)]).record(map.nodes.filter { $0.state == state }.count)
        }
        for node in map.nodes {
            Gauge(label: "granary_node_up", dimensions: [("node", node.id.rawValue)]).record(node.state == .up ? 1 : 0)
        }
        for state in DriveState.allCases {
            Gauge(label: "granary_drives", dimensions: [("state", state.rawValue)]).record(map.drives.filter { $0.state == state }.count)
        }
        for health in DriveHealth.allCases {
            Gauge(label: "granary_drives_health", dimensions: [("health", health.rawValue)]).record(map.drives.filter { $0.health == health }.count)
        }
        for d in map.drives {
            Gauge(label: "granary_drive_used_bytes", dimensions: [("drive", d.id.description)]).record(Double(d.usedBytes))
            Gauge(label: "granary_drive_capacity_bytes", dimensions: [("drive", d.id.description)]).record(Double(d.capacityBytes))
        }
        guard let repair else { return }
        Gauge(label: "granary_stripes", dimensions: [("state", "degraded")]).record(repair.degradedStripes)
        Gauge(label: "granary_stripes", dimensions: [("state", "shrunk")]).record(repair.shrunkStripes)
        let pass = repair.pass
        Gauge(label: "granary_rebuild_running").record(pass == nil ? 0 : 1)
        Gauge(label: "granary_rebuild_stripes_total").record(pass?.stripesTotal ?? 0)
        Gauge(label: "granary_rebuild_stripes_done").record(pass?.stripesDone ?? 0)
        Gauge(label: "granary_rebuild_bytes_written").record(Double(pass?.bytesWritten ?? 0))
        Gauge(label: "granary_scrub_running").record(repair.scrub.running ? 1 : 0)
        Gauge(label: "granary_scrub_stripes_checked").record(repair.scrub.stripesChecked)
        Gauge(label: "granary_scrub_corrupt_found").record(repair.scrub.corrupt)
    }
}
