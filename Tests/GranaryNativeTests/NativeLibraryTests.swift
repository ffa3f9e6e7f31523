import GranaryErasure
import GranaryFUSE
import GranaryTransport
import Testing

/// The native libraries link and answer: each wrapper reaches its C library for real.
@Suite struct NativeLibraryTests {
    @Test func liberasurecodeLoadsTheBuiltinBackendAndISAL() {
        // The built-in Reed-Solomon backend ships inside liberasurecode itself.
        #expect(ErasureBackend.builtinVandermonde.isAvailable)
        // ops/install-deps.sh installs libisal-dev (with libisal2), so ISA-L's backends load.
        #expect(ErasureBackend.available.contains(.isaLCauchy))
        #expect(ErasureBackend.libraryVersion.hasPrefix("1."))
    }

    @Test func libfuseReportsItsVersion() {
        #expect(FUSELibrary.version.hasPrefix("3."))
        #expect(FUSELibrary.apiVersion >= 30)
    }
}
