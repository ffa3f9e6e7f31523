#if canImport(Glibc)
import Glibc
#endif
import Foundation
import GranaryCore
import Synchronization

/// Reads a drive's SMART attributes with smartmontools (`smartctl --json -a DEVICE`), for the block
/// device that holds the drive's directory.
///
/// Guarantees it never fails a heartbeat: every way of not getting attributes (no smartctl, no
/// block device behind the directory, a virtual disk without SMART, smartctl failing or hanging
/// past its time limit) comes back as a one-line note saying which, for `granary drive list`.
public enum SmartProbe {
    /// What one probe found: the attributes, or why there are none.
    public enum Outcome: Sendable, Equatable {
        case reading(SmartReading)
        case none(String)
    }

    /// Probes the device behind `path`.
    public static func probe(path: String, timeoutSeconds: Double = 10) -> Outcome {
        guard let smartctl = executable("smartctl") else {
            return .none("no SMART data: smartctl is not installed (apt-get install smartmontools)")
        }
        let device: String
        switch blockDevice(of: path) {
        case let .success(d): device = d
        case let .failure(note): return .none(note.text)
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: smartctl)
        p.arguments = ["--json", "-a", device]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { return .none("no SMART data: smartctl could not run: \(error)") }
        // Read on a thread of its own so a hung smartctl is cut off at the time limit.
        let data = Mutex<Data?>(nil)
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            let d = out.fileHandleForReading.readDataToEndOfFile()
            data.withLock { $0 = d }
            done.signal()
        }
        if done.wait(timeout: .now() + timeoutSeconds) == .timedOut {
            p.terminate()
            return .none("no SMART data: smartctl on \(device) did not answer within \(Int(timeoutSeconds)) s")
        }
        p.waitUntilExit()
        return parse(data.withLock { $0 } ?? Data(), device: device)
    }

    /// Parses smartctl's JSON: ATA attributes (raw values by id), NVMe health-log fields mapped onto
    /// the ATA ids nearest in meaning, the temperature and the overall self-assessment.
    public static func parse(_ json: Data, device: String) -> Outcome {
        guard let root = (try? JSONSerialization.jsonObject(with: json)) as? [String: Any] else {
            return .none("no SMART data: smartctl on \(device) printed no JSON")
        }
        var raw: [Int: Double] = [:]
        if let table = (root["ata_smart_attributes"] as? [String: Any])?["table"] as? [[String: Any]] {
            for row in table {
                guard let id = row["id"] as? Int else { continue }
                if let r = row["raw"] as? [String: Any], let v = number(r["value"]) { raw[id] = v }
            }
        }
        if let nvme = root["nvme_smart_health_information_log"] as? [String: Any] {
            if let v = number(nvme["media_errors"]) { raw[187] = v }
            if let v = number(nvme["power_on_hours"]) { raw[9] = v }
            if let v = number(nvme["temperature"]) { raw[194] = v }
            if let v = number(nvme["num_err_log_entries"]) { raw[188] = v }
        }
        let temperature = number((root["temperature"] as? [String: Any])?["current"])
        if raw.isEmpty && temperature == nil {
            let messages = ((root["smartctl"] as? [String: Any])?["messages"] as? [[String: Any]])?
                .compactMap { $0["string"] as? String } ?? []
            let why = messages.first.map { ": \($0)" } ?? ""
            return .none("no SMART data: \(device) reports none\(why)")
        }
        let passed = (root["smart_status"] as? [String: Any])?["passed"] as? Bool
        return .reading(SmartReading(device: device, model: root["model_name"] as? String, serial: root["serial_number"] as? String,
                                     passed: passed, temperatureC: temperature ?? raw[194], raw: raw))
    }

    static func number(_ v: Any?) -> Double? {
        if let i = v as? Int { return Double(i) }
        if let d = v as? Double { return d }
        if let n = v as? NSNumber { return n.doubleValue }
        return nil
    }

    struct Note: Error { let text: String }

    /// The whole-disk device (`/dev/sda`, not `/dev/sda1`) holding `path`, from sysfs.
    static func blockDevice(of path: String) -> Result<String, Note> {
        var st = stat()
        guard stat(path, &st) == 0 else { return .failure(Note(text: "no SMART data: cannot stat \(path)")) }
        let major = (st.st_dev >> 8) & 0xfff | ((st.st_dev >> 32) & ~0xfff)
        let minor = (st.st_dev & 0xff) | ((st.st_dev >> 12) & ~0xff)
        let sys = "/sys/dev/block/\(major):\(minor)"
        guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: sys) else {
            return .failure(Note(text: "no SMART data: \(path) is on no block device (device \(major):\(minor), a virtual or network file system)"))
        }
        var name = (target as NSString).lastPathComponent
        if FileManager.default.fileExists(atPath: sys + "/partition") {
            name = ((target as NSString).deletingLastPathComponent as NSString).lastPathComponent
        }
        if name.hasPrefix("dm-") || name.hasPrefix("loop") || name.hasPrefix("md") {
            return .failure(Note(text: "no SMART data: \(path) is on /dev/\(name), a virtual block device"))
        }
        return .success("/dev/" + name)
    }

    static func executable(_ name: String) -> String? {
        let dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init) + ["/usr/sbin", "/sbin"]
        return dirs.map { $0 + "/" + name }.first { access($0, X_OK) == 0 }
    }
}
