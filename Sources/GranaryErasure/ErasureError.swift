import GranaryCore

/// Why the codec refused or failed, with the numbers that explain it.
public enum ErasureError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalidLayout(StripeLayout.Invalid)
    case unknownBackend(String)
    /// liberasurecode cannot load the backend on this host (its library is not installed).
    case backendUnavailable(ErasureBackend)
    /// liberasurecode refused to create an instance (`code` is its error number).
    case instanceCreate(ErasureBackend, k: Int, m: Int, code: Int32)
    case encodeFailed(code: Int32)
    /// Fewer than k distinct, well-formed fragments were given.
    case insufficientFragments(have: Int, need: Int)
    case decodeFailed(code: Int32)
    case reconstructFailed(index: Int, code: Int32)
    /// The caller's buffer has the wrong size.
    case bufferSize(expected: Int, got: Int)
    /// A fragment is shorter than a fragment header, or its header is not liberasurecode's.
    case badFragment(position: Int, reason: String)

    public var description: String {
        switch self {
        case let .invalidLayout(i): return "invalid layout: \(i)"
        case let .unknownBackend(n): return "unknown erasure-code backend '\(n)' (known: \(ErasureBackend.allCases.map(\.rawValue).joined(separator: ", ")))"
        case let .backendUnavailable(b): return "erasure-code backend \(b.rawValue) is not available on this host (is libisal2 installed?)"
        case let .instanceCreate(b, k, m, code): return "liberasurecode refused \(b.rawValue) with k=\(k), m=\(m) (error \(code))"
        case let .encodeFailed(code): return "encoding failed (liberasurecode error \(code))"
        case let .insufficientFragments(have, need): return "only \(have) usable fragments, \(need) needed to decode"
        case let .decodeFailed(code): return "decoding failed (liberasurecode error \(code))"
        case let .reconstructFailed(index, code): return "reconstructing fragment \(index) failed (liberasurecode error \(code))"
        case let .bufferSize(expected, got): return "buffer of \(got) bytes where \(expected) are needed"
        case let .badFragment(position, reason): return "fragment \(position): \(reason)"
        }
    }
}
