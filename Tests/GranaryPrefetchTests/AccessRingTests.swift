import Testing
@testable import GranaryPrefetch

@Suite struct AccessRingTests {
    func record(_ n: Int) -> TraceRecord { TraceRecord(t: Double(n), job: "j", key: "k\(n)", size: n) }

    @Test func wrapsAroundKeepingTheNewestOldestFirst() {
        let ring = AccessRing(capacity: 4)
        for n in 0..<3 { ring.record(record(n)) }
        #expect(ring.snapshot().map(\.size) == [0, 1, 2])
        for n in 3..<10 { ring.record(record(n)) }
        #expect(ring.count == 4)
        #expect(ring.totalRecorded == 10)
        #expect(ring.snapshot().map(\.size) == [6, 7, 8, 9])
    }

    @Test func drainReportsWhatWasOverwritten() {
        let ring = AccessRing(capacity: 4)
        for n in 0..<3 { ring.record(record(n)) }
        let first = ring.drain(after: 0)
        #expect(first.records.map(\.size) == [0, 1, 2] && first.nextSequence == 3 && first.lost == 0)
        for n in 3..<10 { ring.record(record(n)) }  // 3, 4, 5 are overwritten before the next drain
        let second = ring.drain(after: first.nextSequence)
        #expect(second.records.map(\.size) == [6, 7, 8, 9])
        #expect(second.lost == 3 && second.nextSequence == 10)
        let third = ring.drain(after: second.nextSequence)
        #expect(third.records.isEmpty && third.lost == 0 && third.nextSequence == 10)
    }

    @Test func concurrentRecordersLoseNothingButOverwrites() async {
        let ring = AccessRing(capacity: 1000)
        await withTaskGroup(of: Void.self) { group in
            for task in 0..<4 {
                group.addTask { for n in 0..<500 { ring.record(self.record(task * 1000 + n)) } }
            }
        }
        #expect(ring.totalRecorded == 2000)
        let drained = ring.drain(after: 0)
        #expect(drained.records.count == 1000 && drained.lost == 1000)
    }
}
