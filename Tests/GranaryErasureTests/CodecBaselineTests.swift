import GranaryErasure
import Testing

/// The C baseline the bench compares against does the work it claims: its loops run, its decodes
/// give the original bytes, and it refuses what the codec refuses.
@Suite struct CodecBaselineTests {
    @Test func loopsRunAndDecodeTheOriginal() throws {
        let codec = try ErasureCodec(k: 4, m: 2, backend: .isaLCauchy)
        let input = ErasureCodecTests.data(4 * 65_536 + 123)
        let stripe = try codec.encode(input)
        let fragments = (2..<6).map { stripe.fragment($0) }
        let (encodeNs, decodeNs, matches, matchesShorter) = try input.withUnsafeBytes { raw in
            (try CodecBaseline.encodeNanoseconds(codec, data: raw, iterations: 3),
             try CodecBaseline.decodeNanoseconds(codec, fragments: fragments, iterations: 3),
             try CodecBaseline.decodeMatches(codec, fragments: fragments, expected: raw),
             try CodecBaseline.decodeMatches(codec, fragments: fragments, expected: UnsafeRawBufferPointer(rebasing: raw.dropLast())))
        }
        #expect(encodeNs > 0 && decodeNs > 0)
        #expect(matches)
        #expect(!matchesShorter)
        var output = [UInt8](repeating: 0, count: input.count)
        let ns = try output.withUnsafeMutableBytes { out in
            try CodecBaseline.decodeIntoNanoseconds(codec, fragments: fragments, into: out, iterations: 2)
        }
        #expect(ns > 0)
        #expect(output == input)
        #expect(throws: ErasureError.bufferSize(expected: input.count, got: input.count - 1)) {
            try output.withUnsafeMutableBytes { out in
                try CodecBaseline.decodeIntoNanoseconds(codec, fragments: fragments, into: UnsafeMutableRawBufferPointer(rebasing: out.dropLast()), iterations: 1)
            }
        }
        #expect(throws: ErasureError.insufficientFragments(have: 3, need: 4)) {
            try CodecBaseline.decodeNanoseconds(codec, fragments: Array(fragments.prefix(3)), iterations: 1)
        }
    }

    @Test func swiftDecodeKeepsTheLibraryBufferAndChecksBufferSizes() throws {
        let codec = try ErasureCodec(k: 6, m: 3, backend: .isaLCauchy)
        let input = ErasureCodecTests.data(6 * 4096 * 5 + 9)
        let stripe = try codec.encode(input)
        let fragments = (3..<9).map { stripe.fragment($0) }
        let decoded = try codec.decode(fragments)
        #expect(decoded.count == input.count)
        #expect(decoded.withUnsafeBytes { Array($0) } == input)
        var short = [UInt8](repeating: 0, count: input.count - 1)
        #expect(throws: ErasureError.bufferSize(expected: input.count, got: input.count - 1)) {
            try short.withUnsafeMutableBytes { out in try codec.decode(fragments, into: out) }
        }
    }
}
