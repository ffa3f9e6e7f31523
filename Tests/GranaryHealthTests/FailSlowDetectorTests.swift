import Foundation
import GranaryHealth
import Testing

@Suite struct FailSlowDetectorTests {
    static func quick() -> FailSlowSettings {
        var s = FailSlowSettings()
        s.suspectAfterSeconds = 30
        s.clearAfterSeconds = 60
        return s
    }

    @Test func tenTimesSlowerDriveOfEightIsSuspectedAndClearedAfterItRecovers() {
        let sim = FailSlowSimulation(drives: 8, seed: 7, injections: [.init(drive: 3, factor: 10, from: 600, until: 1_200)], settings: Self.quick())
        let r = sim.run(seconds: 1_500)
        let detected = r.detectionSeconds.first ?? nil
        print("fail-slow 10x: suspect after \(detected.map { "\($0)" } ?? "never") s, cleared \(r.clearSeconds.first.map { "\(String(describing: $0))" } ?? "-") s after it ended")
        #expect(detected != nil && detected! <= 2 * 30 + 5)
        #expect(r.falsePositiveDrives == 0)
        let cleared = r.clearSeconds.first ?? nil
        #expect(cleared != nil && cleared! >= 60 && cleared! <= 2 * 60 + 5, "hysteresis: cleared after \(String(describing: cleared)) s")
    }

    @Test(arguments: [(3.0, true), (5.0, true), (10.0, true), (1.2, false)])
    func severities(factor: Double, found: Bool) {
        let sim = FailSlowSimulation(drives: 8, seed: 11, injections: [.init(drive: 5, factor: factor, from: 300)], settings: Self.quick())
        let r = sim.run(seconds: 800)
        let detected = r.detectionSeconds.first ?? nil
        print("fail-slow \(factor)x: detection \(detected.map { "\($0) s" } ?? "none")")
        #expect((detected != nil) == found)
        #expect(r.falsePositiveDrives == 0)
    }

    @Test(arguments: [8, 24])
    func noisyHealthyDrivesAreNeverFlagged(drives: Int) {
        var sim = FailSlowSimulation(drives: drives, windowSeconds: 10, seed: UInt64(drives), settings: Self.quick())
        sim.jitter = 0.35
        let r = sim.run(seconds: 2 * 3_600)
        print("fail-slow noise, \(drives) drives, 2 h at 10 s windows: \(r.falsePositiveDrives) flagged, false-positive rate \(r.falsePositiveRate)")
        #expect(r.falsePositiveDrives == 0 && r.falsePositiveRate == 0 && r.transitions == 0)
    }

    @Test func aBusyDriveInLineWithItsLoadIsNotFlagged() {
        var sim = FailSlowSimulation(drives: 8, seed: 3, settings: Self.quick())
        sim.busyDrive = 2
        sim.busyFactor = 4
        let r = sim.run(seconds: 1_800)
        #expect(r.falsePositiveDrives == 0 && r.transitions == 0)
    }

    static func windows(_ t: Double, slow: Double = 1, slowDrive: Int = 0, drives: Int = 6, ops: Int = 100) -> [DriveWindow] {
        (0..<drives).map { i in
            DriveWindow(drive: "n\(i)/d0", node: "n\(i)", time: t, seconds: 1, ops: ops,
                        meanLatencyMs: (4 + Double(i % 3) * 0.2) * (i == slowDrive ? slow : 1))
        }
    }

    @Test func aSingleSlowWindowDoesNotFlagAndFlappingDoesNotFlap() {
        var d = FailSlowDetector(settings: Self.quick())
        for t in 0..<40 { d.observe(Self.windows(Double(t))) }
        d.observe(Self.windows(40, slow: 20))
        for t in 41..<100 { d.observe(Self.windows(Double(t))) }
        #expect(d.assessments["n0/d0"]?.state == .healthy)
        // Alternating slow and normal windows never build a 30 s run.
        var changes = 0
        var last = DriveAssessment.State.healthy
        for t in 100..<400 {
            d.observe(Self.windows(Double(t), slow: t % 2 == 0 ? 5 : 1))
            let s = d.assessments["n0/d0"]?.state ?? .healthy
            if s != last { changes += 1 }
            last = s
        }
        #expect(changes == 0)
    }

    @Test func tooFewPeersOrIdleWindowsJudgeNothing() {
        var d = FailSlowDetector(settings: Self.quick())
        for t in 0..<100 { d.observe(Self.windows(Double(t), slow: 10, drives: 3)) }
        #expect(d.assessments["n0/d0"]?.state == .healthy)
        #expect(d.assessments["n0/d0"]?.evidence.contains("2 peer drives with recent load, 3 needed") == true)
        var idle = FailSlowDetector(settings: Self.quick())
        for t in 0..<100 { idle.observe(Self.windows(Double(t), slow: 10, ops: 2)) }
        #expect(idle.assessments["n0/d0"]?.state == .healthy)
        #expect(idle.assessments["n0/d0"]?.evidence.contains("too few to judge") == true)
    }

    @Test func failingIOCountsAsSlowAndEvidenceNamesTheDrive() {
        var d = FailSlowDetector(settings: Self.quick())
        for t in 0..<60 {
            var w = Self.windows(Double(t))
            w[0].errors = 20
            d.observe(w)
        }
        let a = d.assessments["n0/d0"]
        #expect(a?.state == .suspect)
        #expect(a?.evidence.hasPrefix("n0/d0: 20 of 100 operations failed") == true)
        d.reset(drive: "n0/d0")
        #expect(d.assessments["n0/d0"]?.state == .healthy)
    }

    @Test func detectorStateSurvivesACodableRoundTrip() throws {
        var d = FailSlowDetector(settings: Self.quick())
        for t in 0..<50 { d.observe(Self.windows(Double(t), slow: 10)) }
        let data = try JSONEncoder().encode(d)
        let back = try JSONDecoder().decode(FailSlowDetector.self, from: data)
        #expect(back.assessments == d.assessments)
        #expect(back.assessments["n0/d0"]?.state == .suspect)
    }
}
