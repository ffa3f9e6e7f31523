import GranaryCore
import GranaryMeta
import Testing

/// Many threads calling one store at once: each method must behave as if the calls ran one
/// after the other (the `MetaStore` guarantee), whatever the engine does underneath.
@Suite("Concurrent callers")
struct ConcurrencyTests {
    @Test(arguments: Engine.all)
    func concurrentCreatorsMakeEachNameExactlyOnce(_ engine: Engine) throws {
        try engine.withStore { store, _ throws in
            let dir = try store.mkdir(parent: .root, name: "d", mode: 0o755, uid: 0, gid: 0)
            let names = (0..<50).map { "n\($0)" }
            let created = Collected<String>()
            let existed = Collected<String>()
            let errors = Collected<String>()
            onThreads(8) { t in
                for j in names.indices {
                    let name = names[(j + t * 7) % names.count]
                    do throws(MetaError) {
                        _ = try store.createFile(parent: dir.id, name: name, mode: 0o644, uid: 0, gid: 0)
                        created.add(name)
                    } catch .exists {
                        existed.add(name)
                    } catch {
                        errors.add("\(name): \(error)")
                    }
                }
            }
            #expect(errors.all.isEmpty, "\(errors.all.prefix(5))")
            #expect(created.all.count == names.count && Set(created.all) == Set(names), "each name created exactly once")
            #expect(existed.all.count == names.count * 7)
            #expect(try store.readdir(dir.id).map(\.name).sorted() == names.sorted())
            #expect(try store.getattr(dir.id).nlink == 2)
        }
    }

    /// One file renamed back and forth by two threads while three others list its directory:
    /// every listing shows it under exactly one of its names.
    @Test(arguments: Engine.all)
    func renamesAreAtomicToReaders(_ engine: Engine) throws {
        try engine.withStore { store, _ throws in
            let dir = try store.mkdir(parent: .root, name: "r", mode: 0o755, uid: 0, gid: 0)
            let file = try store.createFile(parent: dir.id, name: "a", mode: 0o644, uid: 0, gid: 0)
            let renamersDone = Counter()
            let reads = Counter()
            let bad = Collected<String>()
            let errors = Collected<String>()
            onThreads(5) { t in
                if t < 2 {
                    for i in 0..<60 {
                        let (from, to) = (i + t) % 2 == 0 ? ("a", "b") : ("b", "a")
                        do throws(MetaError) { try store.rename(fromParent: dir.id, fromName: from, toParent: dir.id, toName: to) } catch .notFound {
                            // The other renamer moved it first.
                        } catch {
                            errors.add("rename: \(error)")
                        }
                    }
                    renamersDone.add()
                } else {
                    while renamersDone.value < 2 {
                        do {
                            let entries = try store.readdir(dir.id)
                            if entries.count != 1 || !["a", "b"].contains(entries[0].name) || entries[0].inode != file.id {
                                bad.add("\(entries)")
                            }
                            reads.add()
                        } catch {
                            errors.add("readdir: \(error)")
                        }
                    }
                }
            }
            #expect(errors.all.isEmpty, "\(errors.all.prefix(5))")
            #expect(bad.all.isEmpty, "listings with both names or neither: \(bad.all.prefix(5))")
            #expect(reads.value > 0)
            #expect(try store.readdir(dir.id).count == 1)
            #expect(try store.getattr(file.id).nlink == 1)
        }
    }

    /// Writers that read the same extents and rewrite them at once: exactly one wins each round;
    /// the others get `.fileChanged` and leave nothing behind, not even their new stripes.
    @Test(arguments: Engine.all)
    func concurrentExtentRewritesOneWinsEachRound(_ engine: Engine) throws {
        try engine.withStore { store, _ throws in
            let s0 = try store.allocateStripes(count: 1)
            let file = try #require(try store.commitFiles(stripes: [FileDataTests.stripe(s0)], files: [
                NewFile(parent: .root, name: "f", size: 8192, extents: [Extent(fileOffset: 0, stripe: s0, stripeOffset: 0, length: 8192)]),
            ]).first)
            for round in 0..<4 {
                let current = try store.fileMap(file.id).extents
                let first = try store.allocateStripes(count: 6)
                let wins = Collected<UInt64>()
                let lost = Collected<Int>()
                let errors = Collected<String>()
                onThreads(6) { t in
                    let sid = first + UInt64(t)
                    do throws(MetaError) {
                        try store.rewriteFile(file.id, replacing: current, with: [Extent(fileOffset: 0, stripe: sid, stripeOffset: 0, length: 8192)],
                                              stripes: [FileDataTests.stripe(sid)], size: 8192)
                        wins.add(sid)
                    } catch .fileChanged {
                        lost.add(t)
                    } catch {
                        errors.add("\(error)")
                    }
                }
                #expect(errors.all.isEmpty, "round \(round): \(errors.all.prefix(3))")
                #expect(wins.all.count == 1 && lost.all.count == 5, "round \(round)")
                let winner = try #require(wins.all.first)
                #expect(try store.fileMap(file.id).extents == [Extent(fileOffset: 0, stripe: winner, stripeOffset: 0, length: 8192)])
                #expect(try store.stripes((0..<6).map { first + UInt64($0) }).map(\.id) == [winner], "losers recorded nothing")
            }
            #expect(try store.unreferencedStripes(limit: 10).count == 4, "each replaced stripe is garbage")
        }
    }

    @Test(arguments: Engine.all)
    func concurrentStripeAllocationsNeverOverlap(_ engine: Engine) throws {
        try engine.withStore { store, _ throws in
            let ranges = Collected<ClosedRange<UInt64>>()
            let errors = Collected<String>()
            onThreads(6) { t in
                for _ in 0..<15 {
                    do {
                        let first = try store.allocateStripes(count: t + 1)
                        ranges.add(first...(first + UInt64(t)))
                    } catch {
                        errors.add("\(error)")
                    }
                }
            }
            #expect(errors.all.isEmpty, "\(errors.all.prefix(3))")
            let sorted = ranges.all.sorted { $0.lowerBound < $1.lowerBound }
            let total = UInt64(15 * (1...6).reduce(0, +))
            #expect(sorted.first?.lowerBound == 1 && sorted.last?.upperBound == total)
            for (a, b) in zip(sorted, sorted.dropFirst()) { #expect(a.upperBound + 1 == b.lowerBound) }
        }
    }

    /// Maps saved at once from several threads: only stale ones are refused, the newest wins whole.
    @Test(arguments: Engine.all)
    func concurrentClusterMapSavesKeepTheNewestWhole(_ engine: Engine) throws {
        try engine.withStore { store, _ throws in
            let maps = try (0...60).map { v throws in
                let node = try #require(NodeID("n\(v)"))
                return ClusterMap(version: UInt64(v), nodes: [
                    NodeInfo(id: node, address: Endpoint(host: "10.0.0.\(v % 250)", port: 7400), state: .up,
                             drives: [DriveInfo(id: try #require(DriveID(node: node, name: "d0")), state: .up)]),
                ])
            }
            let refused = Collected<String>()
            let errors = Collected<String>()
            onThreads(6) { t in
                for k in 0..<10 {
                    do throws(MetaError) { try store.saveClusterMap(maps[1 + t + 6 * k]) } catch let .staleClusterMap(stored, offered) where offered < stored {
                        refused.add("\(offered)<\(stored)")
                    } catch {
                        errors.add("\(error)")
                    }
                }
            }
            #expect(errors.all.isEmpty, "\(errors.all.prefix(3))")
            #expect(try store.clusterMap() == maps[60])
        }
    }

    /// Repairers replacing one stripe from the same version at once (no lock of ours orders them,
    /// so on PostgreSQL the losers are aborted by the server and retried): exactly one wins, the
    /// others see `.staleStripe` with the winner's version.
    @Test(arguments: Engine.all)
    func concurrentStripeReplacementsOneWins(_ engine: Engine) throws {
        try engine.withStore { store, _ throws in
            let s = try StripeRepairTests.committed(store)
            let wins = Collected<Int>()
            let stale = Collected<UInt32>()
            let errors = Collected<String>()
            onThreads(6) { t in
                var next = s
                next.version = 2
                next.fragments[1] = FragmentPlacement(index: 1, drive: StripeRepairTests.drive("n\(10 + t)/d0"), generation: 2)
                do throws(MetaError) {
                    try store.replaceStripe(next, expectedVersion: 1)
                    wins.add(t)
                } catch let .staleStripe(_, expected, found) where expected == 1 {
                    stale.add(found)
                } catch {
                    errors.add("\(error)")
                }
            }
            #expect(errors.all.isEmpty, "\(errors.all.prefix(3))")
            #expect(wins.all.count == 1 && stale.all == Array(repeating: 2, count: 5))
            let winner = try #require(wins.all.first)
            #expect(try store.stripes([s.id]).first?.fragments[1].drive == StripeRepairTests.drive("n\(10 + winner)/d0"))
        }
    }

    /// Service state saved from many threads at once: every save succeeds (retried when the server
    /// aborts one), and the stored value is one of them, whole.
    @Test(arguments: Engine.all)
    func concurrentServiceStateSavesAllSucceed(_ engine: Engine) throws {
        try engine.withStore { store, _ throws in
            let errors = Collected<String>()
            onThreads(6) { t in
                for k in 0..<10 {
                    do { try store.saveServiceState("repair", #"{"writer":\#(t),"k":\#(k)}"#) } catch { errors.add("\(error)") }
                }
            }
            #expect(errors.all.isEmpty, "\(errors.all.prefix(3))")
            let saved = try #require(try store.serviceState("repair"))
            #expect((0..<6).contains { t in saved == #"{"writer":\#(t),"k":9}"# }, "\(saved)")
        }
    }
}
