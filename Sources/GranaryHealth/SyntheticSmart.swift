import Foundation

/// A seeded generator of **synthetic** drive statistics in the Backblaze format, for tests,
/// demos and the shipped default model. None of it is measured data: the shapes below are
/// plausible caricatures of what failing and healthy drives look like in public drive stats.
///
/// What it models:
/// - `drives` drives observed for up to `days` days from `firstDay`; ~10% join late, ~3% of
///   healthy drives leave early without failing, ~1% of daily reports are missing.
/// - Three made-up drive models; one does not report SMART 187 / 188 (some vendors don't).
/// - Failing drives (`failingFraction`): SMART 5, 197, 198, 187 and 188 (each with its own
///   chance) start rising 5–30 days before failure, following `progress^shape` with shape
///   1.5–3 so the rise accelerates; magnitudes span two orders of magnitude and ~10% degrade
///   only weakly. Temperature rises by 1–4 °C, Granary's latency ratio creeps up and I/O errors
///   appear. `suddenFraction` of failing drives fail with at most 2 days of faint warning,
///   which no predictor can catch: they are the realistic misses.
/// - Healthy drives carry noise: small non-zero counters that stay flat, a one-off jump of a
///   few reallocated sectors, ~1.5% that keep reallocating a few sectors a week yet survive,
///   short pending-sector blips, slowly creeping command timeouts, ~1% with a few days of
///   timeouts, I/O errors and latency from a bad cable or controller before recovering,
///   temperature that varies by day and week, latency spikes, and ~2% that are slow but never
///   fail.
/// - `withoutSmartFraction` of drives report no SMART at all; `withoutPerformanceFraction`
///   report no Granary performance columns.
///
/// Guarantees: the same configuration always yields the same records (own splitmix64 PRNG,
/// each drive seeded independently); each failing drive has exactly one `failure = true` row,
/// its last.
public struct SyntheticSmart: Sendable, Codable, Equatable {
    public var seed: UInt64
    public var drives: Int
    public var days: Int
    public var failingFraction: Double
    public var suddenFraction: Double
    public var withoutSmartFraction: Double
    public var withoutPerformanceFraction: Double
    /// Day number of the first day (default 2024-01-01).
    public var firstDay: Int

    public init(
        seed: UInt64 = 1, drives: Int = 1000, days: Int = 120, failingFraction: Double = 0.1,
        suddenFraction: Double = 0.06, withoutSmartFraction: Double = 0.02,
        withoutPerformanceFraction: Double = 0.05, firstDay: Int = 19723
    ) {
        self.seed = seed
        self.drives = drives
        self.days = days
        self.failingFraction = failingFraction
        self.suddenFraction = suddenFraction
        self.withoutSmartFraction = withoutSmartFraction
        self.withoutPerformanceFraction = withoutPerformanceFraction
        self.firstDay = firstDay
    }

    /// All records, drive by drive, each drive in day order.
    public func records() -> [SmartRecord] {
        guard drives > 0, days > 0 else { return [] }
        var all: [SmartRecord] = []
        all.reserveCapacity(drives * days)
        for index in 0..<drives { all.append(contentsOf: drive(index)) }
        return all
    }

    private struct DriveModel {
        var name: String
        var capacity: Int64
        var reportsErrorCounters: Bool
    }

    private static let models = [
        DriveModel(name: "GRANARY-SIM 12TB-A", capacity: 12_000_138_625_024, reportsErrorCounters: true),
        DriveModel(name: "GRANARY-SIM 16TB-B", capacity: 16_000_900_661_248, reportsErrorCounters: true),
        DriveModel(name: "GRANARY-SIM 8TB-H", capacity: 8_001_563_222_016, reportsErrorCounters: false),
    ]

    private static let serialAlphabet = Array("0123456789ABCDEFGHJKLMNPQRSTVWXYZ".utf8)

    /// Records of drive `index`. Seeding per drive keeps a drive's data independent of how many
    /// other drives are generated.
    func drive(_ index: Int) -> [SmartRecord] {
        var rng = SmartRandom(seed: seed ^ (UInt64(index) &+ 1) &* 0xd1b5_4a32_d192_ed03)
        _ = rng.next()

        var serialBytes = Array("SY".utf8)
        var number = index
        for _ in 0..<6 {
            serialBytes.append(Self.serialAlphabet[number % Self.serialAlphabet.count])
            number /= Self.serialAlphabet.count
        }
        for _ in 0..<3 { serialBytes.append(Self.serialAlphabet[rng.int(0...(Self.serialAlphabet.count - 1))]) }
        let serial = String(decoding: serialBytes, as: UTF8.self)
        let model = Self.models[rng.int(0...(Self.models.count - 1))]
        let hasSmart = !rng.chance(withoutSmartFraction)
        let hasPerformance = !rng.chance(withoutPerformanceFraction)

        // Observation window, relative to firstDay.
        let start = rng.chance(0.1) ? rng.int(1...max(1, days / 3)) : 0
        var last = days - 1
        var failureDay: Int?
        if rng.chance(failingFraction), start + 10 <= days - 1 {
            let day = rng.int((start + 10)...(days - 1))
            failureDay = day
            last = day
        } else if rng.chance(0.03) {
            last = rng.int(min(start + 5, days - 1)...(days - 1))
        }
        guard start <= last else { return [] }

        // Healthy-looking noise, which failing drives can carry too.
        var base: [Int: Double] = [5: 0, 187: 0, 188: 0, 197: 0, 198: 0]
        if rng.chance(0.08) { base[5] = Double(rng.int(1...24)) }
        if rng.chance(0.03) { base[187] = Double(rng.int(1...10)) }
        if rng.chance(0.05) { base[188] = Double(rng.int(1...30)) }
        if rng.chance(0.02) { base[198] = Double(rng.int(1...8)) }
        let jumpDay = rng.chance(0.03) ? rng.int(0...(days - 1)) : Int.max
        let jumpSize = Double(rng.int(1...8))
        let blipDay = rng.chance(0.03) ? rng.int(0...(days - 1)) : Int.max
        let blipLength = rng.int(1...5)
        let blipSize = Double(rng.int(1...4))
        let creepingTimeouts = rng.chance(0.02)
        let reallocationRate = rng.chance(0.015) ? rng.uniform(0.1, 0.6) : 0
        let hoursAtStart = rng.uniform(500, 45_000)
        let baseTemperature = rng.uniform(24, 38)
        let weekPhase = rng.uniform(0, 2 * Double.pi)
        let baseLatency = rng.chance(0.02) ? rng.uniform(1.3, 1.8) : 1.0
        // A bad cable or controller: timeouts, errors and latency for a few days, then recovery.
        let episodeDay = rng.chance(0.01) ? rng.int(0...(days - 1)) : Int.max
        let episodeLength = rng.int(3...10)
        let episodeSeverity = rng.uniform(0.5, 2)

        // Degradation ahead of a failure.
        var amplitude: [Int: Double] = [5: 0, 187: 0, 188: 0, 197: 0, 198: 0]
        var lead = 0
        var shape = 2.0
        var latencyRise = 0.0
        var errorRise = 0.0
        var temperatureRise = 0.0
        if failureDay != nil {
            let sudden = rng.chance(suddenFraction)
            let weak = !sudden && rng.chance(0.1)
            lead = sudden ? rng.int(0...2) : rng.int(5...30)
            shape = rng.uniform(1.5, 3)
            let ranges: [(id: Int, chance: Double, low: Double, high: Double)] = [
                (5, 0.85, 20, 800), (187, 0.55, 5, 150), (188, 0.3, 3, 50), (197, 0.7, 8, 300), (198, 0.5, 8, 200),
            ]
            for entry in ranges where rng.chance(entry.chance) {
                amplitude[entry.id] = rng.logUniform(entry.low, entry.high)
            }
            if amplitude[5] == 0, amplitude[197] == 0 { amplitude[5] = rng.logUniform(20, 800) }
            if sudden {
                let faint = rng.chance(0.5) ? rng.uniform(0, 3) : 0
                for id in amplitude.keys { amplitude[id] = min(amplitude[id] ?? 0, faint) }
            } else {
                if weak { for id in amplitude.keys { amplitude[id] = (amplitude[id] ?? 0) * 0.1 } }
                latencyRise = rng.logUniform(0.3, 3)
                errorRise = rng.logUniform(2, 60)
                temperatureRise = rng.uniform(1, 4)
            }
        }

        var records: [SmartRecord] = []
        records.reserveCapacity(last - start + 1)
        var timeouts = 0.0
        var slowReallocations = 0.0
        var previous: [Int: Double] = [:]
        for day in start...last {
            if creepingTimeouts, rng.chance(0.05) { timeouts += 1 }
            if reallocationRate > 0, rng.chance(reallocationRate) { slowReallocations += Double(rng.int(1...3)) }
            let inEpisode = day >= episodeDay && day < episodeDay + episodeLength
            if inEpisode { timeouts += (episodeSeverity * rng.uniform(1, 6)).rounded() }
            if day != last, rng.chance(0.01) { continue }
            var progress = 0.0
            if let failureDay {
                if lead == 0 {
                    progress = day == failureDay ? 1 : 0
                } else if day >= failureDay - lead {
                    progress = pow(Double(day - (failureDay - lead)) / Double(lead), shape)
                }
            }

            var raw: [Int: Double] = [:]
            var normalized: [Int: Double] = [:]
            if hasSmart {
                for id in [5, 187, 188, 197, 198] {
                    if !model.reportsErrorCounters, id == 187 || id == 188 { continue }
                    var value = (base[id] ?? 0) + ((amplitude[id] ?? 0) * progress).rounded(.down)
                    if id == 5 { value += slowReallocations + (day >= jumpDay ? jumpSize : 0) }
                    if id == 188 { value += timeouts }
                    if id == 197, day >= blipDay, day < blipDay + blipLength { value += blipSize }
                    // Cumulative counters never go back; pending sectors (197) may.
                    if id != 197 { value = max(value, previous[id] ?? 0) }
                    raw[id] = value
                }
                previous = raw
                let weekly = 1.5 * sin(2 * Double.pi * Double(day) / 7 + weekPhase)
                raw[194] = (baseTemperature + weekly + 0.8 * rng.normal() + temperatureRise * progress).rounded()
                let hours = (hoursAtStart + 24 * Double(day)).rounded()
                raw[9] = hours
                normalized[5] = max(1, (100 - (raw[5] ?? 0) / 10).rounded())
                if let reported = raw[187] { normalized[187] = max(1, 100 - reported) }
                if raw[188] != nil { normalized[188] = 100 }
                normalized[197] = 100
                normalized[198] = 100
                normalized[194] = raw[194]
                normalized[9] = max(1, (100 - hours / 1000).rounded())
            }

            var latency: Double?
            var errors: Double?
            if hasPerformance {
                let spike = rng.chance(0.01) ? rng.uniform(0.3, 1) : 0
                let hiccup = inEpisode ? episodeSeverity * rng.uniform(0.5, 1.5) : 0
                let ratio = baseLatency + 0.05 * abs(rng.normal()) + spike + hiccup + latencyRise * progress
                latency = (ratio * 1000).rounded() / 1000
                let background: Double = rng.chance(0.01) ? 1 : 0
                let episodeErrors = inEpisode ? (episodeSeverity * rng.uniform(2, 15)).rounded() : 0
                errors = background + episodeErrors + (errorRise * progress * rng.uniform(0.5, 1.5)).rounded()
            }

            records.append(SmartRecord(
                day: firstDay + day, serial: serial, model: model.name, capacityBytes: model.capacity,
                failure: day == failureDay, attributes: raw, normalized: normalized,
                latencyRatio: latency, ioErrors: errors
            ))
        }
        return records
    }
}
