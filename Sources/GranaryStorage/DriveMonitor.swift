#if canImport(Glibc)
import Glibc
#endif
import GranaryCore
import Histogram
import Metrics
import Synchronization

/// Measures one drive as its requests see it: latency histograms per operation (HdrHistogram,
/// microseconds, 3 significant digits), bytes, time in service (for the mean queue depth) and
/// errors, over the window since the last `take`.
///
/// Guarantees every operation recorded lands in exactly one window, and that recording from any
/// number of threads is safe (one short lock per operation; the histograms are fixed-size, so a
/// record never allocates).
public final class DriveMonitor: Sendable {
    /// The kind of operation a latency belongs to: reads (whole and ranged) or writes (put, delete).
    public enum Operation: Sendable { case read, write }

    private struct Window {
        var reads = Histogram<UInt32>(lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: .three)
        var writes = Histogram<UInt32>(lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: .three)
        var readBytes: Int64 = 0
        var writeBytes: Int64 = 0
        var busyMicros: Double = 0
        var errors = 0
        var crcFailures = 0
        var started: Double
    }

    private let window: Mutex<Window>
    private let clock: @Sendable () -> Double

    /// Prometheus-style instruments of this drive (no-ops unless the process bootstrapped a metrics
    /// backend: `granaryd` with a `[metrics]` section).
    private let instruments: Instruments?

    struct Instruments {
        let readOps: Counter
        let writeOps: Counter
        let readBytes: Counter
        let writeBytes: Counter
        let errors: Counter
        let crcFailures: Counter
        let readSeconds: Timer
        let writeSeconds: Timer

        init(drive: String) {
            let d = [("drive", drive)]
            readOps = Counter(label: "granary_drive_operations_total", dimensions: d + [("op", "read")])
            writeOps = Counter(label: "granary_drive_operations_total", dimensions: d + [("op", "write")])
            readBytes = Counter(label: "granary_drive_bytes_total", dimensions: d + [("op", "read")])
            writeBytes = Counter(label: "granary_drive_bytes_total", dimensions: d + [("op", "write")])
            errors = Counter(label: "granary_drive_io_errors_total", dimensions: d)
            crcFailures = Counter(label: "granary_drive_crc_failures_total", dimensions: d)
            readSeconds = Timer(label: "granary_drive_operation_seconds", dimensions: d + [("op", "read")])
            writeSeconds = Timer(label: "granary_drive_operation_seconds", dimensions: d + [("op", "write")])
        }
    }

    /// `drive` labels the metrics (`node/drive`); nil records none.
    public init(drive: String? = nil, clock: @escaping @Sendable () -> Double = DriveMonitor.monotonic) {
        instruments = drive.map { Instruments(drive: $0) }
        self.clock = clock
        window = Mutex(Window(started: clock()))
    }

    /// Seconds on the monotonic clock.
    public static let monotonic: @Sendable () -> Double = {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// Records one operation that took `seconds` and moved `bytes`; `failed` when it ended in an
    /// I/O error (not for a missing chunk, which says nothing about the drive).
    public func record(_ op: Operation, seconds: Double, bytes: Int, failed: Bool = false, corrupt: Bool = false) {
        let micros = max(seconds * 1e6, 1)
        let value = UInt64(min(micros, 600_000_000))
        window.withLock { w in
            switch op {
            case .read:
                _ = w.reads.record(value)
                w.readBytes += Int64(bytes)
            case .write:
                _ = w.writes.record(value)
                w.writeBytes += Int64(bytes)
            }
            w.busyMicros += micros
            if failed { w.errors += 1 }
            if corrupt { w.crcFailures += 1 }
        }
        if let m = instruments {
            let nanos = Int64(min(seconds, 600) * 1e9)
            switch op {
            case .read:
                m.readOps.increment()
                m.readBytes.increment(by: bytes)
                m.readSeconds.recordNanoseconds(nanos)
            case .write:
                m.writeOps.increment()
                m.writeBytes.increment(by: bytes)
                m.writeSeconds.recordNanoseconds(nanos)
            }
            if failed { m.errors.increment() }
            if corrupt { m.crcFailures.increment() }
        }
    }

    /// The figures of the window since the last call, and a fresh window.
    public func take() -> DriveTelemetry {
        let now = clock()
        return window.withLock { w in
            let seconds = max(now - w.started, 1e-6)
            let t = DriveTelemetry(
                seconds: seconds, reads: Int(w.reads.totalCount), writes: Int(w.writes.totalCount),
                readBytes: w.readBytes, writeBytes: w.writeBytes,
                readMeanMs: w.reads.totalCount == 0 ? 0 : w.reads.mean / 1000,
                readP50Ms: Double(w.reads.valueAtPercentile(50)) / 1000,
                readP99Ms: Double(w.reads.valueAtPercentile(99)) / 1000,
                writeMeanMs: w.writes.totalCount == 0 ? 0 : w.writes.mean / 1000,
                writeP99Ms: Double(w.writes.valueAtPercentile(99)) / 1000,
                queueDepth: w.busyMicros / 1e6 / seconds, errors: w.errors, crcFailures: w.crcFailures)
            w.reads.reset()
            w.writes.reset()
            w.readBytes = 0
            w.writeBytes = 0
            w.busyMicros = 0
            w.errors = 0
            w.crcFailures = 0
            w.started = now
            return t
        }
    }
}
