@testable import GranaryLoader

/// Random bytes for the archives and mutations in these tests come from the loader's own `SeededGenerator`
/// (SplitMix64), the same on every run, so a failure can be replayed from its seed.
extension SeededGenerator {
    mutating func bytes(_ count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8.random(in: 0...255, using: &self) }
    }
}
