/// How a file's bytes are erasure-coded: `k` data fragments and `m` parity fragments per stripe,
/// `fragmentSize` data bytes in each data fragment (a full stripe holds `k × fragmentSize` bytes),
/// and the codec backend that computed the parity — fragments written by one backend can only be
/// decoded by the same one, so the backend is part of the layout, not a host setting.
///
/// Guarantees `validate` accepts only layouts every part of Granary can serve: k ≥ 1, m ≥ 1,
/// k + m ≤ `maxFragments` (liberasurecode's limit), and a fragment size that is a multiple of
/// 4 KiB from 4 KiB to 64 MiB.
public struct StripeLayout: Codable, Sendable, Hashable, CustomStringConvertible {
    public static let maxFragments = 32
    public static let fragmentSizes = 4096...(64 << 20)
    /// 4+2 with 1 MiB fragments: survives two lost drives at 1.5× raw space.
    public static let `default` = StripeLayout(k: 4, m: 2, fragmentSize: 1 << 20, backend: "isa_l_rs_cauchy")

    public var k: Int
    public var m: Int
    public var fragmentSize: Int
    /// liberasurecode's name for the backend (`isa_l_rs_cauchy`, `isa_l_rs_vand`, `liberasurecode_rs_vand`).
    public var backend: String

    public init(k: Int, m: Int, fragmentSize: Int, backend: String) {
        self.k = k
        self.m = m
        self.fragmentSize = fragmentSize
        self.backend = backend
    }

    public var width: Int { k + m }
    /// Data bytes in a full stripe.
    public var stripeDataSize: Int { k * fragmentSize }

    public var description: String { "\(k)+\(m) (\(ByteSize(Int64(fragmentSize))) fragments, \(backend))" }

    /// Why a layout was refused, naming the field.
    public enum Invalid: Error, Equatable, Sendable, CustomStringConvertible {
        case k(Int)
        case m(Int)
        case width(k: Int, m: Int)
        case fragmentSize(Int)

        public var description: String {
            switch self {
            case let .k(k): return "k must be at least 1 (got \(k))"
            case let .m(m): return "m must be at least 1 (got \(m))"
            case let .width(k, m): return "k + m must be at most \(StripeLayout.maxFragments) (got \(k) + \(m) = \(k + m))"
            case let .fragmentSize(s):
                return "fragment size must be a multiple of 4 KiB from 4 KiB to 64 MiB (got \(s) bytes)"
            }
        }
    }

    public func validate() throws(Invalid) {
        guard k >= 1 else { throw .k(k) }
        guard m >= 1 else { throw .m(m) }
        guard k + m <= Self.maxFragments else { throw .width(k: k, m: m) }
        guard Self.fragmentSizes.contains(fragmentSize), fragmentSize % 4096 == 0 else { throw .fragmentSize(fragmentSize) }
    }
}
