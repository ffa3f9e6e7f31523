import CErasureCode

/// The erasure-coding backends liberasurecode can load on this host.
///
/// liberasurecode opens its backends with dlopen at run time, so a backend compiled in can still be
/// missing (ISA-L's needs libisal2). `available` asks the library itself, which is the only honest
/// answer; the codec of the striping issue picks its backend from this list.
public enum ErasureBackend: String, CaseIterable, Sendable, Codable {
    case isaLCauchy = "isa_l_rs_cauchy"
    case isaLVandermonde = "isa_l_rs_vand"
    case jerasureVandermonde = "jerasure_rs_vand"
    case builtinVandermonde = "liberasurecode_rs_vand"

    var id: ec_backend_id_t {
        switch self {
        case .isaLCauchy: return EC_BACKEND_ISA_L_RS_CAUCHY
        case .isaLVandermonde: return EC_BACKEND_ISA_L_RS_VAND
        case .jerasureVandermonde: return EC_BACKEND_JERASURE_RS_VAND
        case .builtinVandermonde: return EC_BACKEND_LIBERASURECODE_RS_VAND
        }
    }

    /// Whether liberasurecode can load this backend here.
    public var isAvailable: Bool { liberasurecode_backend_available(id) != 0 }

    /// Every backend liberasurecode can load here, best first.
    public static var available: [ErasureBackend] { allCases.filter(\.isAvailable) }

    /// The liberasurecode headers' version (`major.minor.rev`) this build compiled against.
    public static var libraryVersion: String { "\(_MAJOR).\(_MINOR).\(_REV)" }
}
