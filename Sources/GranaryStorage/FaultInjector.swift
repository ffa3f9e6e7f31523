import GranaryCore
import Synchronization

/// The per-drive fault layer of a storage node, for tests and drills: the faults `granary drive
/// inject` installed, applied to every operation on the drive before it runs.
///
/// Guarantees nothing is injected unless the node's config enabled injection (`enabled`), and that
/// a node with no fault installed pays one atomic load per request.
public final class FaultInjector: Sendable {
    public let enabled: Bool
    private let faults = Mutex<[String: FaultSpec]>([:])
    private let any = Atomic<Bool>(false)
    private let random = Mutex<UInt64>(0x9E37_79B9_7F4A_7C15)

    public init(enabled: Bool) {
        self.enabled = enabled
    }

    /// Whether any drive has a fault installed (requests then take the asynchronous path).
    public var active: Bool { any.load(ordering: .relaxed) }

    /// Installs `spec` on drive `name` (a clear spec removes it).
    public func set(_ name: String, _ spec: FaultSpec) {
        faults.withLock { f in
            f[name] = spec.isClear ? nil : spec
            any.store(!f.isEmpty, ordering: .relaxed)
        }
    }

    public var installed: [String: FaultSpec] { faults.withLock { $0 } }

    /// What to do to one operation on drive `name`: how long to delay it, and whether it fails
    /// (an injected I/O error, or the whole drive failed).
    public func draw(_ name: String) -> (delaySeconds: Double, failure: String?) {
        guard active, let spec = faults.withLock({ $0[name] }) else { return (0, nil) }
        if spec.fail { return (0, "injected drive failure") }
        let (u1, u2) = random.withLock { x -> (Double, Double) in
            func next() -> Double {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17
                return Double(x >> 11) / Double(1 << 53)
            }
            return (next(), next())
        }
        let delay = (spec.latencyMs + spec.jitterMs * u1) / 1000
        return (delay, u2 < spec.errorRate ? "injected I/O error" : nil)
    }
}
