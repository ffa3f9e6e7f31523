/// One drive's records in day order, cut at its first failure, with the facts that training and
/// evaluation need about it (when it failed, where it falls in the train / held-out split).
///
/// Guarantees: `records` is non-empty, sorted by day, holds one serial, and nothing after the
/// first `failure == true` row (Backblaze drives leave the fleet when they fail).
public struct DriveHistory: Sendable, Equatable {
    public let serial: String
    public let records: [SmartRecord]
    /// Day of the failure row, or nil when the drive did not fail while observed.
    public let failureDay: Int?

    /// Groups records (any order, any number of drives) into histories sorted by serial.
    public static func group(_ records: [SmartRecord]) -> [DriveHistory] {
        var bySerial: [String: [SmartRecord]] = [:]
        for record in records { bySerial[record.serial, default: []].append(record) }
        return bySerial.keys.sorted().compactMap { serial in
            bySerial[serial].flatMap { DriveHistory(serial: serial, unsorted: $0) }
        }
    }

    /// Builds one drive's history; nil when `records` is empty.
    public init?(serial: String, unsorted: [SmartRecord]) {
        var sorted = unsorted.filter { $0.serial == serial }
        guard !sorted.isEmpty else { return nil }
        if !zip(sorted, sorted.dropFirst()).allSatisfy({ $0.day <= $1.day }) {
            sorted.sort { $0.day < $1.day }
        }
        if let cut = sorted.firstIndex(where: { $0.failure }) {
            sorted.removeSubrange((cut + 1)...)
            failureDay = sorted[cut].day
        } else {
            failureDay = nil
        }
        self.serial = serial
        records = sorted
    }

    public var failed: Bool { failureDay != nil }
    public var lastDay: Int { records[records.count - 1].day }

    /// Training labels, one per record: true when the drive fails within `horizonDays` days of
    /// that record, i.e. `0 <= failureDay - day < horizonDays`.
    public func labels(horizonDays: Int) -> [Bool] {
        guard let failureDay else { return Array(repeating: false, count: records.count) }
        return records.map { failureDay - $0.day < horizonDays }
    }

    /// Whether this drive belongs to the held-out ~30% for a given split seed. The split hashes
    /// the serial (FNV-1a, then a splitmix finaliser) so it is stable across runs, platforms and
    /// record order, and one drive never lands on both sides.
    public func isHeldOut(seed: UInt64) -> Bool {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325 ^ seed
        for byte in serial.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        var mixer = SmartRandom(seed: hash)
        return mixer.next() % 100 < 30
    }
}
