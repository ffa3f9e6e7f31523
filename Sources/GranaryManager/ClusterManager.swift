#if canImport(Glibc)
import Glibc
#endif
import GranaryCore
import GranaryMeta
import GranaryWire
import Logging

/// The cluster's membership and its versioned map: which storage nodes exist, where they serve,
/// and the state of each node and drive.
///
/// Guarantees: the map's version grows whenever anything routed on changes (membership, address,
/// node or drive state) and each such change is saved to the MetaStore before it is visible; a
/// node with no heartbeat for `heartbeatTimeout` is marked down (and its drives with it); a drained
/// node stays drained across heartbeats and manager restarts until undrained. After a restart every
/// node starts down until it heartbeats again — the manager never claims health it has not seen.
///
/// Among several managers sharing one database only the leader (`LeaderElection`) decides and
/// saves the map. The others follow: they serve the map as the database has it (at most
/// `followerRefresh` old) and only remember each node's latest heartbeat, so that when one of them
/// takes over (`lead()`) it knows at once which nodes are alive instead of calling them all down.
public actor ClusterManager {
    let store: any MetaStore
    let heartbeatTimeout: Double
    let logger: Logger
    let clock: @Sendable () -> Double
    private(set) var map: ClusterMap
    /// Whether this manager decides the map (the only one, or the leader of several).
    public private(set) var leading: Bool
    /// A follower's record of the latest heartbeat of each node, and when it came.
    private var heard: [NodeID: (hb: NodeHeartbeat, at: Double)] = [:]
    private var loadedAt = 0.0
    /// How stale a follower's copy of the map may get before it reads the database again.
    static let followerRefresh = 0.25

    public init(store: any MetaStore, heartbeatTimeoutMs: Int, leading: Bool = true, logger: Logger,
                clock: @escaping @Sendable () -> Double = ClusterManager.wallClock) throws(MetaError) {
        self.store = store
        self.heartbeatTimeout = Double(heartbeatTimeoutMs) / 1000
        self.logger = logger
        self.clock = clock
        self.leading = leading
        map = Self.unseen(try store.clusterMap(), graceFrom: clock())
        loadedAt = clock()
    }

    /// The stored map as a manager that has not heard from any node yet takes it: nodes that were
    /// up stay up, with one heartbeat timeout of grace from `now` to report in (`checkLiveness`
    /// downs those that do not). Marking them all down instead would make every stripe unreadable
    /// for a heartbeat interval after each manager restart or takeover, and bump the map version
    /// twice for nothing; a node that died meanwhile costs at most one timeout of reads that go
    /// around it (they decode from parity, as for any node found dead by a client first).
    static func unseen(_ stored: ClusterMap, graceFrom now: Double) -> ClusterMap {
        var loaded = stored
        for i in loaded.nodes.indices where loaded.nodes[i].state == .up {
            loaded.nodes[i].lastHeartbeat = now
        }
        return loaded
    }

    /// Starts deciding the map: reads it afresh from the database (the previous leader's last
    /// word, drive health included) and applies the heartbeats heard while following; nodes not
    /// heard from within a heartbeat timeout of taking the lead are then marked down.
    public func lead() throws(MetaError) {
        guard !leading else { return }
        let now = clock()
        map = Self.unseen(try store.clusterMap(), graceFrom: now)
        leading = true
        for (_, h) in heard.sorted(by: { $0.key < $1.key }) where now - h.at <= heartbeatTimeout {
            try apply(h.hb, at: h.at)
        }
        heard = [:]
        logger.notice("leading: cluster map version \(map.version), \(map.nodes.filter { $0.state == .up }.count) of \(map.nodes.count) nodes up")
    }

    /// Stops deciding the map (another manager leads now).
    public func follow() {
        leading = false
        loadedAt = 0
    }

    /// The map to hand out: this manager's own when it leads, the database's when it follows.
    public func currentMap() -> ClusterMap {
        if !leading { refresh() }
        return map
    }

    private func refresh() {
        let now = clock()
        guard now - loadedAt >= Self.followerRefresh else { return }
        do {
            let stored = try store.clusterMap()
            map = stored
            loadedAt = now
        } catch {
            logger.warning("follower: could not read the cluster map, serving version \(map.version): \(error)")
        }
    }

    public static let wallClock: @Sendable () -> Double = {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    public var clusterMap: ClusterMap { map }

    /// Registration and heartbeat both carry a node's whole state; the first registers it.
    @discardableResult
    public func heartbeat(_ hb: NodeHeartbeat) throws(MetaError) -> UInt64 {
        let now = clock()
        guard leading else {
            heard[hb.node] = (hb, now)
            refresh()
            return map.version
        }
        try apply(hb, at: now)
        return map.version
    }

    private func apply(_ hb: NodeHeartbeat, at now: Double) throws(MetaError) {
        var next = map
        if let i = next.nodes.firstIndex(where: { $0.id == hb.node }) {
            var node = next.nodes[i]
            if node.state == .down {
                logger.info("node \(hb.node) is up (\(hb.address))")
                node.state = .up
            }
            node.address = hb.address
            node.lastHeartbeat = now
            let previous = node.drives
            node.drives = Self.drives(from: hb, nodeState: node.state)
            // Health is the manager's judgement, not the node's report: it survives heartbeats.
            for j in node.drives.indices {
                if let old = previous.first(where: { $0.id == node.drives[j].id }) {
                    node.drives[j].health = old.health
                    node.drives[j].healthNote = old.healthNote
                }
            }
            next.nodes[i] = node
        } else {
            logger.info("node \(hb.node) registered at \(hb.address) with \(hb.drives.count) drives")
            next.nodes.append(NodeInfo(id: hb.node, address: hb.address, state: .up, lastHeartbeat: now, drives: Self.drives(from: hb, nodeState: .up)))
            next.nodes.sort { $0.id < $1.id }
        }
        try publish(next)
    }

    static func drives(from hb: NodeHeartbeat, nodeState: NodeState) -> [DriveInfo] {
        hb.drives.compactMap { r in
            guard let id = DriveID(node: hb.node, name: r.name) else { return nil }
            let state: DriveState
            switch (nodeState, r.condition) {
            case (.drained, _): state = .drained
            case (.down, _): state = .down
            case (.up, .ok): state = .up
            case (.up, .readOnly): state = .readOnly
            case (.up, .failed): state = .failed
            }
            return DriveInfo(id: id, state: state, capacityBytes: r.capacityBytes, usedBytes: r.usedBytes,
                             freeBytes: r.freeBytes, chunkCount: r.chunkCount, problem: r.problem)
        }
    }

    /// Marks nodes without a recent heartbeat down. Returns the nodes that went down.
    @discardableResult
    public func checkLiveness() throws(MetaError) -> [NodeID] {
        guard leading else { return [] }
        let now = clock()
        var next = map
        var downed: [NodeID] = []
        for i in next.nodes.indices where next.nodes[i].state == .up {
            let last = next.nodes[i].lastHeartbeat ?? 0
            if now - last > heartbeatTimeout {
                next.nodes[i].state = .down
                for j in next.nodes[i].drives.indices { next.nodes[i].drives[j].state = .down }
                downed.append(next.nodes[i].id)
                logger.warning("node \(next.nodes[i].id) is down: no heartbeat for \(Int((now - last) * 1000)) ms (timeout \(Int(heartbeatTimeout * 1000)) ms)")
            }
        }
        try publish(next)
        return downed
    }

    /// Takes a node out of placement (its drives become `drained`). Idempotent.
    public func drain(_ node: NodeID) throws(ManagerError) {
        try setDrained(node, true)
    }

    /// Returns a drained node to service; it is `up` again at its next heartbeat.
    public func undrain(_ node: NodeID) throws(ManagerError) {
        try setDrained(node, false)
    }

    private func setDrained(_ node: NodeID, _ drained: Bool) throws(ManagerError) {
        guard let i = map.nodes.firstIndex(where: { $0.id == node }) else { throw .unknownNode(node) }
        var next = map
        if drained {
            guard next.nodes[i].state != .drained else { return }
            next.nodes[i].state = .drained
            for j in next.nodes[i].drives.indices { next.nodes[i].drives[j].state = .drained }
            logger.notice("node \(node) drained by operator")
        } else {
            guard next.nodes[i].state == .drained else { return }
            // Until the next heartbeat proves it alive, the node is down.
            next.nodes[i].state = .down
            next.nodes[i].lastHeartbeat = nil
            for j in next.nodes[i].drives.indices { next.nodes[i].drives[j].state = .down }
            logger.notice("node \(node) undrained by operator")
        }
        do { try publish(next) } catch { throw .meta(error) }
    }

    /// Sets a drive's health (suspect, evicted, healthy again) with the evidence for it. Returns the
    /// health it had.
    @discardableResult
    public func setHealth(_ drive: DriveID, _ health: DriveHealth, note: String?) throws(ManagerError) -> DriveHealth {
        guard let i = map.nodes.firstIndex(where: { $0.id == drive.node }),
              let j = map.nodes[i].drives.firstIndex(where: { $0.id == drive }) else { throw .unknownDrive(drive) }
        var next = map
        let old = next.nodes[i].drives[j].health
        next.nodes[i].drives[j].health = health
        next.nodes[i].drives[j].healthNote = health == .healthy ? nil : note
        do { try publish(next) } catch { throw .meta(error) }
        return old
    }

    /// Installs `next` as the map: bumps and saves the version if anything routed on changed,
    /// otherwise keeps the version and only refreshes the capacity figures in memory.
    private func publish(_ next: ClusterMap) throws(MetaError) {
        var candidate = next
        candidate.version = map.version
        guard Self.routingView(candidate) != Self.routingView(map) else {
            map = candidate
            return
        }
        candidate.version = map.version + 1
        try store.saveClusterMap(candidate)
        map = candidate
    }

    /// The parts of the map clients and nodes route on (not heartbeat times or usage figures).
    static func routingView(_ m: ClusterMap) -> [String] {
        m.nodes.map { n in
            "\(n.id)|\(n.address)|\(n.state)|" + n.drives.map { "\($0.id.name):\($0.state):\($0.health):\($0.problem ?? "")" }.joined(separator: ",")
        }
    }

    /// Runs a client's metadata request against the store.
    public nonisolated func meta(_ request: MetaRequest) async -> MetaReply {
        // Not on the actor: the store serializes its own writes, and reads run concurrently. Not on
        // the cooperative pool either: the call blocks on the disk or the database server.
        let store = self.store
        return await BlockingWork.run { request.run(on: store) }
    }
}
