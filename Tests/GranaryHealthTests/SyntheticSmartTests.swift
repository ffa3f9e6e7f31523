import Testing
@testable import GranaryHealth

@Suite("Synthetic SMART generator")
struct SyntheticSmartTests {
    static let media = [5, 187, 188, 197, 198]

    static func counterSum(_ record: SmartRecord, _ ids: [Int] = media) -> Double {
        ids.reduce(0) { $0 + (record.attributes[$1] ?? 0) }
    }

    @Test func sameSeedSameRecordsOtherSeedOtherRecords() {
        let a = SyntheticSmart(seed: 7, drives: 30, days: 40).records()
        #expect(!a.isEmpty)
        #expect(a == SyntheticSmart(seed: 7, drives: 30, days: 40).records())
        #expect(a != SyntheticSmart(seed: 8, drives: 30, days: 40).records())
    }

    @Test func aDriveDoesNotDependOnHowManyOthersAreGenerated() {
        let small = SyntheticSmart(seed: 7, drives: 10, days: 40).records()
        let large = SyntheticSmart(seed: 7, drives: 30, days: 40).records()
        #expect(Array(large.prefix(small.count)) == small)
    }

    @Test func failingDrivesHaveOneFailureRowTheirLast() {
        let histories = DriveHistory.group(SyntheticSmart(seed: 5, drives: 200, days: 60, failingFraction: 0.3).records())
        let failed = histories.filter(\.failed)
        #expect(failed.count > 30)
        for history in histories {
            let failureRows = history.records.filter(\.failure).count
            #expect(failureRows == (history.failed ? 1 : 0))
        }
        for history in failed {
            #expect(history.records.last?.failure == true)
        }
    }

    @Test func failingFractionIsRespected() {
        let histories = DriveHistory.group(SyntheticSmart(seed: 9, drives: 400, days: 60).records())
        let fraction = Double(histories.filter(\.failed).count) / Double(histories.count)
        #expect(histories.count == 400)
        #expect(fraction > 0.06 && fraction < 0.14, "failed fraction \(fraction)")
    }

    @Test func failingDrivesCountersRiseBeforeFailure() {
        let histories = DriveHistory.group(
            SyntheticSmart(seed: 21, drives: 200, days: 60, failingFraction: 0.5, withoutSmartFraction: 0).records())
        let failed = histories.filter { $0.failed && $0.records.count > 20 }
        #expect(failed.count > 60)
        var rising = 0
        var totalRise = 0.0
        for history in failed {
            guard let last = history.records.last,
                  let before = history.records.last(where: { $0.day <= last.day - 20 }) else { continue }
            let rise = Self.counterSum(last) - Self.counterSum(before)
            if rise > 5 { rising += 1 }
            totalRise += rise
        }
        let share = Double(rising) / Double(failed.count)
        print("failing drives with counters rising before failure: \(rising) of \(failed.count)")
        #expect(share >= 0.85, "only \(rising) of \(failed.count) failing drives showed rising counters")
        #expect(totalRise / Double(failed.count) > 50)
        // Degradation accelerates: more of the rise happens in the last week than the week before.
        var lastWeek = 0.0
        var weekBefore = 0.0
        for history in failed {
            guard let last = history.records.last else { continue }
            func sum(at day: Int) -> Double {
                history.records.last(where: { $0.day <= day }).map { Self.counterSum($0) } ?? 0
            }
            lastWeek += sum(at: last.day) - sum(at: last.day - 7)
            weekBefore += sum(at: last.day - 7) - sum(at: last.day - 14)
        }
        #expect(lastWeek > 1.5 * weekBefore)
    }

    @Test func healthyDrivesAreMostlyFlat() {
        let histories = DriveHistory.group(SyntheticSmart(seed: 22, drives: 300, days: 60, withoutSmartFraction: 0).records())
        let healthy = histories.filter { !$0.failed }
        #expect(healthy.count > 200)
        let flat = healthy.filter { history in
            guard let first = history.records.first, let last = history.records.last else { return false }
            return Self.counterSum(last, [5, 197, 198]) - Self.counterSum(first, [5, 197, 198]) <= 8
        }
        let withNoise = healthy.filter { history in history.records.contains { Self.counterSum($0) > 0 } }
        let share = Double(flat.count) / Double(healthy.count)
        print("healthy drives flat: \(flat.count) of \(healthy.count); with some non-zero counter: \(withNoise.count)")
        #expect(share >= 0.95)
        // Noise exists: a generator of spotless healthy drives would make the predictor look better than it is.
        #expect(withNoise.count > 5)
        let temperatures = Set(healthy.flatMap { $0.records.compactMap { $0.attributes[194] } })
        #expect(temperatures.count > 10)
    }

    @Test func latencyCreepsUpOnFailingDrives() {
        let histories = DriveHistory.group(SyntheticSmart(seed: 23, drives: 200, days: 60, failingFraction: 0.5).records())
        let failed = histories.filter { $0.failed && $0.records.count > 20 }
        let creeping = failed.filter { history in
            guard let last = history.records.last?.latencyRatio,
                  let early = history.records.first?.latencyRatio else { return false }
            return last > early + 0.2
        }
        #expect(Double(creeping.count) >= 0.7 * Double(failed.count))
    }

    @Test func someDrivesHaveNoSmartAtAll() {
        let records = SyntheticSmart(seed: 24, drives: 100, days: 10, withoutSmartFraction: 0.3).records()
        let withoutSmart = DriveHistory.group(records).filter { !$0.records.contains(where: \.hasSmart) }
        #expect(withoutSmart.count > 10 && withoutSmart.count < 50)
        // They still carry Granary's performance columns, unless also drawn as unmonitored.
        let monitored = withoutSmart.filter { $0.records.allSatisfy(\.hasPerformance) }
        #expect(Double(monitored.count) >= 0.8 * Double(withoutSmart.count))
    }
}
