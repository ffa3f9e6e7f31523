import Foundation

/// The namespaced hosts of a drill: one network namespace per host, each joined by a veth pair to
/// a bridge in the root namespace that holds the subnet's first address (the drill's own clients
/// and the PostgreSQL server are reached there). The same construction as the integration tests'
/// `NetnsHosts`, with names from a tag the caller picks so `ops/drills/run` can clean up after a
/// drill that was killed.
///
/// Guarantees: `init` either builds every host or removes what it built and throws; `destroy`
/// removes the namespaces, veth pairs and bridge (stop the processes in them first) and may be
/// called again; `cut` and `heal` take one host's link down and up, as a pulled cable would.
final class DrillHosts: Sendable {
    let tag: String
    /// The first three octets of the subnet. Inside 10.231.0.0/16, the range the PostgreSQL
    /// server that `PostgresTestServer` starts lets in.
    let prefix: String
    let count: Int

    /// Why hosts cannot be built here, or nil when they can: root and `ip` are needed.
    static var unavailable: String? {
        if getuid() != 0 { return "network namespaces need root" }
        if !FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip") { return "no /usr/sbin/ip (iproute2)" }
        return nil
    }

    init(count: Int, tag: String) throws(DrillError) {
        self.tag = tag
        let id = Int(getpid())
        prefix = "10.231.\(id % 250 + 1)"
        self.count = count
        do {
            try DrillShell.ip("link add \(bridge) type bridge")
            try DrillShell.ip("addr add \(gateway)/24 dev \(bridge)")
            try DrillShell.ip("link set \(bridge) up")
            for i in 0..<count {
                try DrillShell.ip("netns add \(namespace(i))")
                try DrillShell.ip("link add \(rootSide(i)) type veth peer name eth0 netns \(namespace(i))")
                try DrillShell.ip("link set \(rootSide(i)) master \(bridge) up")
                try DrillShell.ip("-n \(namespace(i)) addr add \(address(i))/24 dev eth0")
                try DrillShell.ip("-n \(namespace(i)) link set eth0 up")
                try DrillShell.ip("-n \(namespace(i)) link set lo up")
            }
        } catch {
            destroy()
            throw error
        }
    }

    var bridge: String { "\(tag)br" }
    var gateway: String { "\(prefix).1" }
    func namespace(_ i: Int) -> String { "\(tag)-h\(i)" }
    func rootSide(_ i: Int) -> String { "\(tag)v\(i)" }
    func address(_ i: Int) -> String { "\(prefix).\(10 + i)" }

    /// The command prefix that runs a program inside host `i` (`ip netns exec` execs the program,
    /// so the process id is the program's own and SIGKILL reaches it).
    func exec(_ i: Int) -> [String] { ["/usr/sbin/ip", "netns", "exec", namespace(i)] }

    /// Takes host `i`'s link down: its processes live on, unreachable.
    func cut(_ i: Int) throws(DrillError) { try DrillShell.ip("link set \(rootSide(i)) down") }

    /// Brings host `i`'s link back.
    func heal(_ i: Int) throws(DrillError) { try DrillShell.ip("link set \(rootSide(i)) up") }

    func destroy() {
        // The veth pairs go explicitly: a namespace outlives its name while sockets of killed
        // processes linger in it, and its veth pair with it.
        for i in 0..<count {
            _ = try? DrillShell.ip("link del \(rootSide(i))")
            _ = try? DrillShell.ip("netns del \(namespace(i))")
        }
        _ = try? DrillShell.ip("link del \(bridge)")
    }
}
