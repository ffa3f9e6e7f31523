import GranaryCore
import GranaryTransport

/// Where the processes of a cluster that tests and drills start listen, and what its managers are
/// called, so that the integration harness and `granary drill` lay clusters out the same way.
///
/// On namespace hosts, process `index` runs on host `index % count`, and fixed ports do: each host
/// has an address and ports of its own. On loopback, every process gets a free port
/// (`LoopbackStream.freePort`).
public enum ClusterEndpoints {
    public static let managerPort: UInt16 = 7400
    public static let storagePort: UInt16 = 7500

    /// The listen address of manager `index` (from 0).
    public static func manager(_ index: Int, on hosts: NetnsHosts?) throws(TransportError) -> Endpoint {
        try endpoint(index, port: managerPort, on: hosts)
    }

    /// The listen address of storage node `index` (from 0).
    public static func storage(_ index: Int, on hosts: NetnsHosts?) throws(TransportError) -> Endpoint {
        try endpoint(index, port: storagePort, on: hosts)
    }

    /// The process (and log) name of manager `index`: "manager", then "manager-2", "manager-3", ….
    public static func managerName(_ index: Int) -> String { index == 0 ? "manager" : "manager-\(index + 1)" }

    private static func endpoint(_ index: Int, port: UInt16, on hosts: NetnsHosts?) throws(TransportError) -> Endpoint {
        if let hosts { return Endpoint(host: hosts.address(index % hosts.count), port: port) }
        return Endpoint(host: "127.0.0.1", port: try LoopbackStream.freePort())
    }
}
