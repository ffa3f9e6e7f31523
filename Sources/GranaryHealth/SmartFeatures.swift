import Foundation

/// Turns one drive's daily records into one feature vector per day for `FailurePredictor`.
///
/// Guarantees: every vector has `SmartFeatures.count` entries in `Feature` order; the counters
/// and performance features are always finite; temperature and power-on time are NaN when the
/// drive does not report them, which the predictor treats as "average" (it imputes the training
/// mean) so a missing sensor neither raises nor lowers the risk. A drive without any SMART data
/// therefore gets zero counters, NaN temperature / age and `smartReported = 0`, leaving only the
/// performance features to carry information.
public enum SmartFeatures {
    /// The features, in vector order.
    public enum Feature: Int, CaseIterable, Sendable, Codable {
        /// log1p of raw SMART 5, reallocated sectors (cumulative; 0 when not reported).
        case reallocatedSectors
        /// log1p of raw SMART 187, reported uncorrectable errors (cumulative; 0 when not reported).
        case reportedUncorrectable
        /// log1p of raw SMART 188, command timeouts (cumulative; 0 when not reported).
        case commandTimeouts
        /// log1p of raw SMART 197, current pending sectors (0 when not reported).
        case pendingSectors
        /// log1p of raw SMART 198, offline uncorrectable sectors (0 when not reported).
        case offlineUncorrectable
        /// log1p of how much raw SMART 5 rose over the last 7 days (negative changes count as 0).
        case reallocatedSectorsRise
        /// log1p of the 7-day rise of raw SMART 187.
        case reportedUncorrectableRise
        /// log1p of the 7-day rise of raw SMART 188.
        case commandTimeoutsRise
        /// log1p of the 7-day rise of raw SMART 197.
        case pendingSectorsRise
        /// log1p of the 7-day rise of raw SMART 198.
        case offlineUncorrectableRise
        /// Raw SMART 194, temperature in °C; NaN when not reported.
        case temperature
        /// Raw SMART 9, power-on hours, scaled to years (÷ 8766); NaN when not reported.
        case powerOnYears
        /// Granary fail-slow score (latency over the drive's normal latency); 1 when absent.
        case latencyRatio
        /// log1p of the I/O errors Granary saw that day; 0 when absent.
        case ioErrors
        /// 1 when the record has either Granary performance column, else 0.
        case performanceReported
        /// 1 when the record has any SMART value, else 0.
        case smartReported

        /// Stable identifier, stored in model JSON so a model is never applied to the wrong layout.
        public var name: String {
            switch self {
            case .reallocatedSectors: "smart_5_log"
            case .reportedUncorrectable: "smart_187_log"
            case .commandTimeouts: "smart_188_log"
            case .pendingSectors: "smart_197_log"
            case .offlineUncorrectable: "smart_198_log"
            case .reallocatedSectorsRise: "smart_5_rise7d_log"
            case .reportedUncorrectableRise: "smart_187_rise7d_log"
            case .commandTimeoutsRise: "smart_188_rise7d_log"
            case .pendingSectorsRise: "smart_197_rise7d_log"
            case .offlineUncorrectableRise: "smart_198_rise7d_log"
            case .temperature: "smart_194_celsius"
            case .powerOnYears: "smart_9_years"
            case .latencyRatio: "granary_latency_ratio"
            case .ioErrors: "granary_io_errors_log"
            case .performanceReported: "granary_performance_reported"
            case .smartReported: "smart_reported"
            }
        }

        /// Plain-words explanation of this feature at `value`, for prediction factors.
        public func explain(_ value: Double) -> String {
            switch self {
            case .reallocatedSectors, .reportedUncorrectable, .commandTimeouts, .pendingSectors, .offlineUncorrectable:
                return "\(Self.label(self)) is \(Self.count(value))"
            case .reallocatedSectorsRise, .reportedUncorrectableRise, .commandTimeoutsRise, .pendingSectorsRise,
                 .offlineUncorrectableRise:
                return "\(Self.label(self)) rose by \(Self.count(value)) in 7 days"
            case .temperature:
                return value.isNaN ? "temperature is not reported" : "temperature is \(Int(value.rounded())) °C"
            case .powerOnYears:
                return value.isNaN ? "power-on time is not reported"
                    : "power-on time is \((value * 10).rounded() / 10) years"
            case .latencyRatio:
                return "I/O latency is \((value * 10).rounded() / 10)× normal"
            case .ioErrors:
                return "\(Self.count(value)) I/O errors on the latest day"
            case .performanceReported:
                return value > 0.5 ? "performance counters are reported" : "no performance counters are reported"
            case .smartReported:
                return value > 0.5 ? "SMART data is reported" : "no SMART data is reported"
            }
        }

        private static func count(_ logValue: Double) -> Int {
            Int(expm1(logValue).rounded())
        }

        private static func label(_ feature: Feature) -> String {
            switch feature {
            case .reallocatedSectors, .reallocatedSectorsRise: "SMART 5 (reallocated sectors)"
            case .reportedUncorrectable, .reportedUncorrectableRise: "SMART 187 (reported uncorrectable errors)"
            case .commandTimeouts, .commandTimeoutsRise: "SMART 188 (command timeouts)"
            case .pendingSectors, .pendingSectorsRise: "SMART 197 (current pending sectors)"
            default: "SMART 198 (offline uncorrectable sectors)"
            }
        }
    }

    /// SMART attributes whose counts are the strongest failure signals, in feature order.
    static let counterAttributes = [5, 187, 188, 197, 198]
    static let temperatureAttribute = 194
    static let powerOnHoursAttribute = 9
    /// Window for the "rise" features.
    static let riseWindowDays = 7

    public static var names: [String] { Feature.allCases.map(\.name) }
    public static var count: Int { Feature.allCases.count }

    /// One vector per record of a single drive, in the order of `history`, which must be sorted
    /// by day (as `DriveHistory.records` is). A rise compares each day with the earliest record
    /// no more than 7 days before it, so gaps in reporting shorten rather than break the window.
    public static func vectors(for history: [SmartRecord]) -> [[Double]] {
        var result: [[Double]] = []
        result.reserveCapacity(history.count)
        var windowStart = 0
        for record in history {
            while history[windowStart].day < record.day - riseWindowDays { windowStart += 1 }
            let reference = history[windowStart]
            var vector = [Double](repeating: 0, count: count)
            for (slot, id) in counterAttributes.enumerated() {
                let now = max(0, record.attributes[id] ?? 0)
                let before = max(0, reference.attributes[id] ?? 0)
                vector[slot] = log1p(now)
                vector[counterAttributes.count + slot] = log1p(max(0, now - before))
            }
            vector[Feature.temperature.rawValue] = record.attributes[temperatureAttribute] ?? .nan
            vector[Feature.powerOnYears.rawValue] = (record.attributes[powerOnHoursAttribute] ?? .nan) / 8766
            vector[Feature.latencyRatio.rawValue] = record.latencyRatio ?? 1
            vector[Feature.ioErrors.rawValue] = log1p(max(0, record.ioErrors ?? 0))
            vector[Feature.performanceReported.rawValue] = record.hasPerformance ? 1 : 0
            vector[Feature.smartReported.rawValue] = record.hasSmart ? 1 : 0
            result.append(vector)
        }
        return result
    }
}
