import GranaryCore
import GranaryErasure
import Testing

/// Placement over hand-built cluster maps: failure domains first, only healthy drives, shares
/// proportional to free space, the same answer every time, and little movement when drives change.
@Suite struct PlacementTests {
    static func map(nodes: Int, drives: Int, free: (Int, Int) -> Int64 = { _, _ in 1 << 40 },
                    nodeState: (Int) -> NodeState = { _ in .up }, driveState: (Int, Int) -> DriveState = { _, _ in .up }) throws -> ClusterMap {
        ClusterMap(version: 7, nodes: try (0..<nodes).map { n in
            let id = try #require(NodeID("node-\(n + 1)"))
            return NodeInfo(id: id, address: Endpoint(host: "127.0.0.1", port: UInt16(7000 + n)), state: nodeState(n), drives: try (0..<drives).map { d in
                DriveInfo(id: try #require(DriveID(node: id, name: "d\(d)")), state: driveState(n, d), freeBytes: free(n, d))
            })
        })
    }

    @Test func oneFragmentPerNodeWhenThereAreEnoughNodes() throws {
        let m = try Self.map(nodes: 8, drives: 3)
        for stripe in UInt64(0)..<500 {
            let drives = try Placement.choose(stripe: stripe, width: 6, in: m)
            #expect(drives.count == 6)
            #expect(Set(drives.map(\.node)).count == 6, "stripe \(stripe)")
            #expect(try Placement.choose(stripe: stripe, width: 6, in: m) == drives)
        }
    }

    @Test func fewerNodesThanFragmentsSpreadsEvenly() throws {
        let m = try Self.map(nodes: 3, drives: 3)
        for stripe in UInt64(0)..<200 {
            let drives = try Placement.choose(stripe: stripe, width: 6, in: m)
            #expect(Set(drives).count == 6)
            let perNode = Dictionary(grouping: drives, by: \.node).mapValues(\.count)
            #expect(perNode.values.sorted() == [2, 2, 2], "stripe \(stripe): \(perNode)")
        }
    }

    @Test func onlyUpDrivesOnUpNodesAndNeverExcludedOnes() throws {
        let m = try Self.map(nodes: 6, drives: 2, nodeState: { $0 == 2 ? .down : .up },
                             driveState: { n, d in n == 4 && d == 0 ? .failed : (n == 5 && d == 1 ? .drained : .up) })
        let node1 = try #require(NodeID("node-1"))
        let excluded = try #require(DriveID(node: node1, name: "d0"))
        for stripe in UInt64(0)..<300 {
            let drives = try Placement.choose(stripe: stripe, width: 5, in: m, excluding: [excluded])
            #expect(!drives.contains { $0.node.description == "node-3" })
            #expect(!drives.contains { $0.description == "node-5/d0" || $0.description == "node-6/d1" || $0 == excluded })
            #expect(Set(drives.map(\.node)).count == 5)
        }
        #expect(throws: Placement.Failure.notEnoughDrives(needed: 12, usable: 7)) {
            try Placement.choose(stripe: 1, width: 12, in: m, excluding: [excluded])
        }
    }

    @Test func avoidedNodesAreUsedOnlyWhenNothingElseIs() throws {
        let m = try Self.map(nodes: 4, drives: 2)
        let n1 = try #require(NodeID("node-1"))
        let n2 = try #require(NodeID("node-2"))
        let avoid: Set<NodeID> = [n1, n2]
        for stripe in UInt64(0)..<100 {
            let two = try Placement.choose(stripe: stripe, width: 2, in: m, avoidingNodes: avoid)
            #expect(Set(two.map(\.node.description)) == ["node-3", "node-4"])
        }
    }

    @Test func sharesFollowFreeSpace() throws {
        // Four one-drive nodes with free space 1:1:2:4.
        let weights: [Int64] = [1, 1, 2, 4]
        let m = try Self.map(nodes: 4, drives: 1, free: { n, _ in weights[n] << 30 })
        var counts = [String: Int]()
        let stripes = 40_000
        for stripe in UInt64(0)..<UInt64(stripes) {
            counts[try Placement.choose(stripe: stripe, width: 1, in: m)[0].node.description, default: 0] += 1
        }
        for (n, w) in weights.enumerated() {
            let share = Double(counts["node-\(n + 1)", default: 0]) / Double(stripes)
            #expect(abs(share - Double(w) / 8) < 0.01, "node-\(n + 1): \(share)")
        }
    }

    @Test func removingADriveMovesOnlyTheStripesThatUsedIt() throws {
        let before = try Self.map(nodes: 10, drives: 1)
        var after = before
        after.nodes[3].drives[0].state = .failed
        var moved = 0
        for stripe in UInt64(0)..<2_000 {
            let a = try Placement.choose(stripe: stripe, width: 4, in: before)
            let b = try Placement.choose(stripe: stripe, width: 4, in: after)
            let lost = before.nodes[3].drives[0].id
            if a.contains(lost) {
                moved += 1
                // Everything but the lost drive stays.
                #expect(Set(a).subtracting([lost]).isSubset(of: Set(b)))
            } else {
                #expect(a == b, "stripe \(stripe) moved although it did not use the failed drive")
            }
        }
        // A drive of ten is in about 4/10 of 4-wide stripes.
        #expect(moved > 600 && moved < 1_000)
    }
}
