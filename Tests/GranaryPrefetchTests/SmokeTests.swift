import Testing
@testable import GranaryPrefetch
@Suite struct Smoke { @Test func ok() { #expect(KeyTable().count == 0) } }
