import Foundation
import GranaryMeta
import Testing

@Suite("Leases: leadership of background work among managers")
struct LeaseTests {
    @Test(arguments: Engine.all)
    func leaseIsTakenRenewedAndRefusedToOthers(_ engine: Engine) throws {
        try engine.withStore { store, _ throws in
            let a = try store.acquireLease("repair", holder: "m1", ttl: 30)
            #expect(a.held && a.holder == "m1" && a.epoch == 1 && a.name == "repair")
            let renewed = try store.acquireLease("repair", holder: "m1", ttl: 30)
            #expect(renewed.held && renewed.epoch == 1, "a renewal keeps the epoch")
            #expect(renewed.expiresAt >= a.expiresAt)
            let other = try store.acquireLease("repair", holder: "m2", ttl: 30)
            #expect(other == Lease(name: "repair", holder: "m1", epoch: 1, expiresAt: renewed.expiresAt, held: false))
            // Releasing someone else's lease does nothing.
            try store.releaseLease("repair", holder: "m2")
            #expect(try store.acquireLease("repair", holder: "m2", ttl: 30).held == false)
            // Released by its holder: the next taker gets a new epoch.
            try store.releaseLease("repair", holder: "m1")
            let taken = try store.acquireLease("repair", holder: "m2", ttl: 30)
            #expect(taken.held && taken.holder == "m2" && taken.epoch == 2)
            #expect(try store.acquireLease("repair", holder: "m1", ttl: 30).held == false)
            // Names are independent; releasing one never taken is harmless.
            #expect(try store.acquireLease("scrub", holder: "m1", ttl: 30).epoch == 1)
            try store.releaseLease("never-taken", holder: "m1")
        }
    }

    @Test(arguments: Engine.all)
    func expiredLeaseIsTakenOverInANewEpoch(_ engine: Engine) throws {
        try engine.withStore { store, _ throws in
            let first = try store.acquireLease("gc", holder: "m1", ttl: 0.3)
            #expect(first.held && first.epoch == 1)
            #expect(try store.acquireLease("gc", holder: "m2", ttl: 30).held == false)
            usleep(600_000)
            let second = try store.acquireLease("gc", holder: "m2", ttl: 30)
            #expect(second.held && second.epoch == 2, "the deposed holder can be fenced by epoch")
            let deposed = try store.acquireLease("gc", holder: "m1", ttl: 30)
            #expect(!deposed.held && deposed.holder == "m2" && deposed.epoch == 2)
            // A holder whose own lease expired starts a new term too.
            _ = try store.acquireLease("solo", holder: "m1", ttl: 0.2)
            usleep(400_000)
            #expect(try store.acquireLease("solo", holder: "m1", ttl: 30).epoch == 2)
        }
    }

    @Test(arguments: Engine.all)
    func leaseExpiryIsOnTheStoresClockAndSurvivesReopening(_ engine: Engine) throws {
        try engine.withStore { store, db throws in
            let before = Date().timeIntervalSince1970
            let lease = try store.acquireLease("leader", holder: "m1", ttl: 20)
            // Here the server's clock is this machine's, so both agree to within a second.
            let storeNow: Double
            switch engine {
            case .sqlite: storeNow = before
            case .postgres: storeNow = Double(try #require(try db.integer("SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint"))) / 1000
            }
            #expect(abs(lease.expiresAt - 20 - storeNow) < 1)
            let reopened = try db.open()
            #expect(try reopened.acquireLease("leader", holder: "m2", ttl: 20).held == false)
            #expect(try reopened.acquireLease("leader", holder: "m1", ttl: 20).epoch == 1)
        }
    }

    @Test(arguments: Engine.all)
    func invalidLeasesAreRefused(_ engine: Engine) throws {
        try engine.withStore { store, _ throws in
            for (name, holder, ttl) in [("", "m1", 1.0), ("x", "", 1.0), ("x", "m1", 0), ("x", "m1", -1), ("x", "m1", .nan),
                                        ("x", "m1", .infinity), (String(repeating: "n", count: 256), "m1", 1.0)] {
                let error = #expect(throws: MetaError.self) { try store.acquireLease(name, holder: holder, ttl: ttl) }
                guard case .invalidLease? = error else {
                    Issue.record("expected .invalidLease for (\(name.prefix(10)), \(holder), \(ttl)), got \(String(describing: error))")
                    continue
                }
            }
            #expect(throws: MetaError.invalidLease(name: "", reason: "the name is empty")) { try store.releaseLease("", holder: "m1") }
        }
    }

    /// Managers racing for a free lease: exactly one gets it, every one sees the same holder and
    /// epoch; again after each release.
    @Test(arguments: Engine.all)
    func racingManagersExactlyOneWins(_ engine: Engine) throws {
        try engine.withStore { store, _ throws in
            for round in 1...3 {
                let results = Collected<Lease>()
                let errors = Collected<String>()
                onThreads(8) { i in
                    do { results.add(try store.acquireLease("leader", holder: "m\(i)", ttl: 30)) } catch { errors.add("\(error)") }
                }
                #expect(errors.all.isEmpty, "\(errors.all)")
                let winners = results.all.filter(\.held)
                #expect(winners.count == 1, "round \(round): \(winners.map(\.holder))")
                #expect(Set(results.all.map(\.holder)).count == 1 && Set(results.all.map(\.epoch)) == [UInt64(round)])
                if let w = winners.first { try store.releaseLease("leader", holder: w.holder) }
            }
        }
    }
}
