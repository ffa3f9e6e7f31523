import Foundation
import GranaryTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Test hosts with addresses of their own on this machine: one network namespace per host, each
/// joined by a veth pair to a bridge in the root namespace, which holds the subnet's first address
/// (the test process, and the PostgreSQL test server, are reached there). Traffic stays inside these
/// namespaces and the root namespace's bridge.
///
/// Guarantees: `init` either builds every host or removes what it built and throws; `destroy`
/// removes the namespaces, veth pairs and bridge (kill the processes in them first); `cut` and
/// `heal` take one host's link down and up, as a pulled cable would.
final class NetnsHosts: Sendable {
    let tag: String
    /// The first three octets of the subnet, e.g. `10.231.17`.
    let prefix: String
    let count: Int

    /// Whether this process can build hosts: root, and `ip` present.
    static var available: Bool { getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip") }

    init(count: Int) throws {
        let id = Int(getpid()) % 100_000
        tag = "g\(id)"
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

    var bridge: String { "\(tag)br" }
    var gateway: String { "\(prefix).1" }
    func namespace(_ i: Int) -> String { "\(tag)-h\(i)" }
    func rootSide(_ i: Int) -> String { "\(tag)v\(i)" }
    func address(_ i: Int) -> String { "\(prefix).\(10 + i)" }

    /// The command prefix that runs a program inside host `i`.
    func exec(_ i: Int) -> [String] { ["/usr/sbin/ip", "netns", "exec", namespace(i)] }

    /// Takes host `i`'s link down: its processes live on, unreachable.
    func cut(_ i: Int) throws { try Self.ip("link set \(rootSide(i)) down") }

    /// Brings host `i`'s link back.
    func heal(_ i: Int) throws { try Self.ip("link set \(rootSide(i)) up") }

    func destroy() {
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
