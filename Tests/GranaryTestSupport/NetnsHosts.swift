import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Test hosts with addresses of their own on this machine: one network namespace per host, each
/// joined by a veth pair to a bridge in the root namespace, which holds the subnet's first address
/// (the test process, and the PostgreSQL test server, are reached there). Traffic stays inside these
/// namespaces and the root namespace's bridge. The integration tests and `granary drill --netns`
/// build their hosts with it; every name carries `tag`, so a script can clean up after a process
/// that was killed before `destroy`.
///
/// Guarantees: `init` either builds every host or removes what it built and throws; `destroy`
/// removes the namespaces, veth pairs and bridge (kill the processes in them first); `cut` and
/// `heal` take one host's link down and up, as a pulled cable would.
public final class NetnsHosts: Sendable {
    public let tag: String
    /// The first three octets of the subnet, e.g. `10.231.17`: inside 10.231.0.0/16, the range the
    /// PostgreSQL server that `PostgresTestServer` starts lets in.
    public let prefix: String
    public let count: Int

    /// Why this process cannot build hosts (root and `ip` are needed), or nil when it can.
    public static var unavailable: String? {
        if getuid() != 0 { return "network namespaces need root" }
        if !FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip") { return "no /usr/sbin/ip (iproute2)" }
        return nil
    }

    public static var available: Bool { unavailable == nil }

    /// Builds `count` hosts whose names start with `tag` (default: `g` and this process's id).
    public init(count: Int, tag: String? = nil) throws {
        let id = Int(getpid()) % 100_000
        self.tag = tag ?? "g\(id)"
        prefix = "10.231.\(id % 250 + 1)"
        self.count = count
        do {
            try Self.ip("link add \(bridge) type bridge")
            try Self.ip("addr add \(gateway)/24 dev \(bridge)")
            try Self.ip("link set \(bridge) up")
            for i in 0..<count {
                try Self.ip("netns add \(namespace(i))")
                try Self.ip("link add \(rootSide(i)) type veth peer name eth0 netns \(namespace(i))")
                try Self.ip("link set \(rootSide(i)) master \(bridge) up")
                try Self.ip("-n \(namespace(i)) addr add \(address(i))/24 dev eth0")
                try Self.ip("-n \(namespace(i)) link set eth0 up")
                try Self.ip("-n \(namespace(i)) link set lo up")
            }
        } catch {
            destroy()
            throw error
        }
    }

    public var bridge: String { "\(tag)br" }
    public var gateway: String { "\(prefix).1" }
    public func namespace(_ i: Int) -> String { "\(tag)-h\(i)" }
    public func rootSide(_ i: Int) -> String { "\(tag)v\(i)" }
    public func address(_ i: Int) -> String { "\(prefix).\(10 + i)" }

    /// The command prefix that runs a program inside host `i` (`ip netns exec` execs the program,
    /// so the process id is the program's own and SIGKILL reaches it).
    public func exec(_ i: Int) -> [String] { ["/usr/sbin/ip", "netns", "exec", namespace(i)] }

    /// Takes host `i`'s link down: its processes live on, unreachable.
    public func cut(_ i: Int) throws { try Self.ip("link set \(rootSide(i)) down") }

    /// Brings host `i`'s link back.
    public func heal(_ i: Int) throws { try Self.ip("link set \(rootSide(i)) up") }

    public func destroy() {
        // The veth pairs go explicitly: a namespace outlives its name while sockets of killed
        // processes linger in it, and its veth pair with it.
        for i in 0..<count {
            _ = try? Self.ip("link del \(rootSide(i))")
            _ = try? Self.ip("netns del \(namespace(i))")
        }
        _ = try? Self.ip("link del \(bridge)")
    }

    /// Runs `ip ARGS` (through `system`: Foundation's Process waits on Dispatch threads that a
    /// blocked test may be holding).
    static func ip(_ args: String) throws {
        let out = "/tmp/granary-netns-\(getpid()).log"
        defer { unlink(out) }
        let status = system("/usr/sbin/ip \(args) >\(out) 2>&1 </dev/null")
        guard status == 0 else {
            throw TestSetupError("ip \(args) failed (status \(status)): \((try? String(contentsOfFile: out, encoding: .utf8)) ?? "")")
        }
    }
}
