import Foundation
import GranaryCore
@testable import GranaryStorage
import Testing

@Suite struct DriveTelemetryTests {
    @Test func monitorWindowsCountEveryOperationOnceAndReset() {
        let clock = Clock()
        let m = DriveMonitor(clock: { clock.now })
        for i in 0..<99 { m.record(.read, seconds: 0.001 * Double(1 + i % 3), bytes: 4096) }
        m.record(.read, seconds: 0.5, bytes: 4096)
        m.record(.write, seconds: 0.004, bytes: 1000, failed: true)
        m.record(.read, seconds: 0.002, bytes: 0, corrupt: true)
        clock.now = 2
        let t = m.take()
        #expect(t.reads == 101 && t.writes == 1 && t.errors == 1 && t.crcFailures == 1)
        #expect(t.readBytes == 100 * 4096 && t.writeBytes == 1000)
        #expect(abs(t.seconds - 2) < 1e-9)
        #expect(t.readP99Ms >= 2.9 && t.readP99Ms < 3.1, "p99 \(t.readP99Ms)")
        #expect(t.readP50Ms >= 1.9 && t.readP50Ms < 2.1)
        // Little's law: 0.7 s in service over a 2 s window.
        #expect(abs(t.queueDepth - (0.001 * 198 + 0.5 + 0.004 + 0.002) / 2) < 0.01)
        clock.now = 3
        let next = m.take()
        #expect(next.ops == 0 && next.errors == 0 && abs(next.seconds - 1) < 1e-9)
    }

    @Test func faultInjectorDelaysAndFailsOnlyTheNamedDrive() {
        let f = FaultInjector(enabled: true)
        #expect(!f.active && f.draw("d0").delaySeconds == 0)
        f.set("d0", FaultSpec(latencyMs: 50, jitterMs: 10))
        #expect(f.active)
        for _ in 0..<100 {
            let d = f.draw("d0")
            #expect(d.delaySeconds >= 0.05 && d.delaySeconds <= 0.06 && d.failure == nil)
            #expect(f.draw("d1").delaySeconds == 0)
        }
        f.set("d0", FaultSpec(errorRate: 0.5))
        let failures = (0..<1000).filter { _ in f.draw("d0").failure != nil }.count
        #expect(failures > 400 && failures < 600)
        f.set("d0", FaultSpec(fail: true))
        #expect(f.draw("d0").failure == "injected drive failure")
        f.set("d0", FaultSpec())
        #expect(!f.active && f.installed.isEmpty)
        #expect(FaultSpec(errorRate: 2).problem?.contains("error rate") == true)
    }

    @Test func smartctlJSONIsParsedAndADiskWithoutSMARTSaysSo() {
        let ata = """
            {"model_name":"ST4000DM000","serial_number":"Z30","smart_status":{"passed":true},"temperature":{"current":34},
             "ata_smart_attributes":{"table":[{"id":5,"value":100,"raw":{"value":8}},{"id":197,"value":100,"raw":{"value":2}},{"id":9,"raw":{"value":1200}}]}}
            """
        guard case let .reading(r) = SmartProbe.parse(Data(ata.utf8), device: "/dev/sda") else {
            Issue.record("ATA JSON not parsed")
            return
        }
        #expect(r.raw[5] == 8 && r.raw[197] == 2 && r.raw[9] == 1200 && r.temperatureC == 34 && r.passed == true && r.serial == "Z30")
        let nvme = #"{"nvme_smart_health_information_log":{"media_errors":3,"power_on_hours":50,"temperature":41}}"#
        guard case let .reading(n) = SmartProbe.parse(Data(nvme.utf8), device: "/dev/nvme0") else {
            Issue.record("NVMe JSON not parsed")
            return
        }
        #expect(n.raw[187] == 3 && n.temperatureC == 41)
        let virtio = #"{"smartctl":{"messages":[{"string":"/dev/vda: Unable to detect device type","severity":"error"}]}}"#
        #expect(SmartProbe.parse(Data(virtio.utf8), device: "/dev/vda") == .none("no SMART data: /dev/vda reports none: /dev/vda: Unable to detect device type"))
        #expect(SmartProbe.parse(Data("not json".utf8), device: "/dev/sdb") == .none("no SMART data: smartctl on /dev/sdb printed no JSON"))
        // Whatever this machine is, a probe never fails: it reads SMART or says why not.
        switch SmartProbe.probe(path: NSTemporaryDirectory()) {
        case let .reading(r): #expect(!r.device.isEmpty)
        case let .none(note): #expect(note.hasPrefix("no SMART data"))
        }
    }

    final class Clock: @unchecked Sendable {
        // @unchecked: set and read by the one test task only.
        var now = 0.0
    }
}
