import GranaryTransport
import Testing

/// The server's answer buffers: reused once released, bounded in what they keep, exact in size.
@Suite struct BufferPoolTests {
    @Test func buffersComeBackAndAreReused() {
        let pool = BufferPool(bufferBytes: 8192, retained: 1)
        var first: PooledBuffer? = pool.take(100)
        let address = first?.bytes.baseAddress
        #expect(first?.bytes.count == 100)
        #expect(Int(bitPattern: address) % 4096 == 0)
        first = nil
        // The released buffer is the next one handed out.
        let second = pool.take(8192)
        #expect(second.bytes.baseAddress == address)
        #expect(second.bytes.count == 8192)
        // A second buffer while the first is out is a different one; only `retained` are kept idle.
        let third = pool.take(10)
        #expect(third.bytes.baseAddress != second.bytes.baseAddress)
    }

    @Test func oversizedRequestsGetTheirOwnMemory() {
        let pool = BufferPool(bufferBytes: 4096, retained: 4)
        let big = pool.take(10_000)
        #expect(big.bytes.count == 10_000)
        big.bytes.initializeMemory(as: UInt8.self, repeating: 7)
        #expect(big.bytes.allSatisfy { $0 == 7 })
    }
}
