/// A small deterministic random number generator (SplitMix64) whose sequence depends only on its
/// seed, on every platform and Swift version — so a shuffle can be reproduced from (seed, epoch)
/// alone, which `SystemRandomNumberGenerator` and the standard library's `shuffle` do not promise.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    /// The generator for `epoch` of a run seeded with `seed`: the two are mixed so that nearby
    /// seeds and epochs give unrelated sequences.
    public init(seed: UInt64, epoch: Int) {
        var g = SeededGenerator(seed: seed ^ 0x6A09_E667_F3BC_C908)
        let s = g.next()
        self.init(seed: s ^ (UInt64(truncatingIfNeeded: epoch) &* 0x9E37_79B9_7F4A_7C15))
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform value in `0..<bound` (Lemire's multiply-and-reject: no modulo bias), spelled out
    /// here because the standard library's bounded algorithm is not promised stable.
    public mutating func below(_ bound: UInt64) -> UInt64 {
        precondition(bound > 0)
        var m = next().multipliedFullWidth(by: bound)
        if m.low < bound {
            let threshold = (0 &- bound) % bound
            while m.low < threshold { m = next().multipliedFullWidth(by: bound) }
        }
        return m.high
    }
}
