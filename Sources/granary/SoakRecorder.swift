import Foundation
import GranaryClient
import Synchronization

/// The operations the soak test times.
enum SoakOp: Int, CaseIterable, Sendable {
    /// A whole file read through the mount: open, read to the end, close (its pages dropped first).
    case mountRead
    /// The wait for the loader's next batch (what a training step stalls on).
    case loaderBatch
    /// A new file written through the mount: create, write, close (close commits it).
    case mountWrite

    var name: String {
        switch self {
        case .mountRead: "mountRead"
        case .loaderBatch: "loaderBatch"
        case .mountWrite: "mountWrite"
        }
    }
}

/// What every worker of the soak test reports into: latencies per operation and per period of the
/// run, operation counts, bytes verified, errors and wrong bytes. Shared by threads (the mount's
/// blocking readers and writers) and tasks (the loaders).
///
/// The run is cut into slots: slot 0 is the warm-up, slots 1…`periods` split the measured time
/// evenly; an operation counts in the slot of the time it ended. Everything is allocated up front
/// (see `SoakHistogram`), so recording never grows this process's memory.
///
/// Guarantees: no error is dropped (`errors` counts all; the first `keptMessages` are kept word for
/// word); a wrong byte is also an error.
final class SoakRecorder: Sendable {
    struct State {
        var histograms: [[SoakHistogram]]
        var ops = [Int](repeating: 0, count: SoakOp.allCases.count)
        var bytesVerified: Int64 = 0
        var samplesVerified = 0
        var filesRemoved = 0
        var errors = 0
        var wrongBytes = 0
        var messages: [String] = []
        /// (seconds since the start, bytes on the storage nodes' drives), every 2 s.
        var driveBytes: [(t: Double, bytes: Int64)] = []
    }

    static let keptMessages = 20
    let start: Double
    let warmup: Double
    let periodSeconds: Double
    let periods: Int
    private let state: Mutex<State>
    let stop = Atomic<Bool>(false)
    /// `--self-test-leak`: the mount readers leak on purpose, to show the verdict catches it.
    let selfTestLeak: Bool

    init(start: Double, warmup: Double, seconds: Double, periods: Int, selfTestLeak: Bool = false) {
        self.start = start
        self.selfTestLeak = selfTestLeak
        self.warmup = warmup
        self.periods = periods
        periodSeconds = seconds / Double(periods)
        let row = [SoakHistogram](repeating: SoakHistogram(), count: periods + 1)
        var initial = State(histograms: [[SoakHistogram]](repeating: row, count: SoakOp.allCases.count))
        initial.driveBytes.reserveCapacity(Int((warmup + seconds) / 2) + 4)
        state = Mutex(initial)
    }

    var stopped: Bool { stop.load(ordering: .relaxed) }

    /// The slot of time `t` (FileClient.seconds()).
    func slot(_ t: Double) -> Int {
        let since = t - start
        guard since >= warmup else { return 0 }
        return 1 + min(periods - 1, Int((since - warmup) / periodSeconds))
    }

    /// Records one operation that began at `began` and ended now, with `bytes` checked good.
    func done(_ op: SoakOp, began: Double, bytes: Int = 0, samples: Int = 0) {
        let now = FileClient.seconds()
        let s = slot(now)
        state.withLock {
            $0.histograms[op.rawValue][s].record(ms: (now - began) * 1000)
            $0.ops[op.rawValue] += 1
            $0.bytesVerified += Int64(bytes)
            $0.samplesVerified += samples
        }
    }

    /// Bytes checked good outside a timed operation (a written file read back).
    func verified(bytes: Int) { state.withLock { $0.bytesVerified += Int64(bytes) } }

    func space(driveBytes: Int64) {
        let t = FileClient.seconds() - start
        state.withLock { $0.driveBytes.append((t, driveBytes)) }
    }

    func removed() { state.withLock { $0.filesRemoved += 1 } }

    func error(_ message: String, wrongBytes: Bool = false) {
        state.withLock {
            $0.errors += 1
            if wrongBytes { $0.wrongBytes += 1 }
            if $0.messages.count < Self.keptMessages { $0.messages.append(message) }
        }
        FileHandle.standardError.write(Data("bench soak: ERROR: \(message)\n".utf8))
    }

    var snapshot: State { state.withLock { $0 } }
}
