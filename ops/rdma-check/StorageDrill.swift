import Foundation
import GranaryBuffers
import GranaryCore
import GranaryTransport
import GranaryTransportConformance
import GranaryWire
import Logging
import Synchronization

/// A storage node in a child process, over RDMA: chunks written, read back byte for byte into
/// registered pool buffers (no copy), the node killed with SIGKILL in the middle of reads, then
/// restarted on the same port, and everything read again.
struct StorageDrill {
    let address: String
    let logger: Logger
    let dir = "/tmp/granary-rdma-node"

    func run() async -> Bool {
        var ok = true
        func step(_ name: String, _ body: () async throws -> Void) async {
            do {
                try await body()
                print("PASS [storage] \(name)")
            } catch {
                print("FAIL [storage] \(name): \(error)")
                ok = false
            }
        }
        var node: Child?
        let transport: RDMATransport
        let pool: IOBufferPool
        do {
            node = try Child.start(address: address, port: 0, dir: dir)
            transport = try RDMATransport(secret: TransportConformance.secret, logger: logger)
            pool = try IOBufferPool(.init(arenaBytes: 16 << 20, limitBytes: 128 << 20, lockMemory: false), registrars: [transport.registrar], logger: logger)
        } catch {
            print("FAIL [storage] setup: \(error)")
            return false
        }
        guard let first = node else { return false }
        let peer = Endpoint(host: address, port: first.port)
        // Sizes around the slot size, the landing piece, and odd ones.
        let sizes = [4096, 1, 32 << 10, (32 << 10) + 1, 777_777, 1 << 20, 2 << 20, 5 << 20 + 3]
        let chunks = sizes.enumerated().map { i, n in (ChunkKey(stripe: UInt64(100 + i), fragment: UInt32(i % 3)), Self.bytes(n, seed: i)) }

        await step("writes \(chunks.count) chunks (\(sizes.reduce(0, +)) bytes) to a storage node over RDMA") {
            for (i, (key, data)) in chunks.enumerated() {
                try await put(transport, peer, drive: "d\(i % 2)", key: key, data: data)
            }
        }
        let before = transport.readCounters
        await step("reads every chunk back byte for byte into registered pool buffers, copying nothing") {
            try await readAll(transport, peer, pool, chunks)
            let after = transport.readCounters
            try check(after.copiedBytes == before.copiedBytes, "\(after.copiedBytes - before.copiedBytes) bytes copied")
            try check(after.directBytes - before.directBytes == sizes.reduce(0, +), "\(after.directBytes - before.directBytes) bytes written directly, expected \(sizes.reduce(0, +))")
        }
        await step("reads in flight when the node is killed fail promptly, and none returns wrong bytes") {
            let (key, data) = chunks[6]
            let stop = Flag()
            let outcome = try await withThrowingTaskGroup(of: (good: Int, failures: [String]).self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        var good = 0
                        var failures: [String] = []
                        while !stop.value.load(ordering: .relaxed) {
                            let b = try await pool.take(data.count)
                            do {
                                try await read(transport, peer, drive: "d0", key: key, into: b.bytes, timeoutMs: 10_000)
                                try check(Array(b.bytes) == data, "a read returned wrong bytes")
                                good += 1
                            } catch let e as TransportError {
                                failures.append(e.description)
                                if failures.count >= 3 { break }
                                try await Task.sleep(for: .milliseconds(100))
                            }
                        }
                        return (good, failures)
                    }
                }
                try await Task.sleep(for: .milliseconds(1500))
                let killedAt = Date()
                first.kill()
                var total = (good: 0, failures: [String]())
                for try await r in group {
                    total.good += r.good
                    total.failures += r.failures
                    if total.failures.count >= 4 { stop.value.store(true, ordering: .relaxed) }
                }
                print("  node killed; \(total.good) good reads before, first failure \(total.failures.first ?? "none"), all readers stopped \(Int(Date().timeIntervalSince(killedAt) * 1000)) ms after the kill")
                return total
            }
            try check(outcome.good > 0, "no read succeeded before the kill")
            try check(!outcome.failures.isEmpty, "no read failed after the kill")
        }
        await step("after the node restarts on the same port, the client reconnects and reads every chunk intact") {
            node = try Child.start(address: address, port: peer.port, dir: dir)
            try await readAll(transport, peer, pool, chunks)
            let (key, data) = (ChunkKey(stripe: 999, fragment: 0), Self.bytes(3 << 20, seed: 99))
            try await put(transport, peer, drive: "d1", key: key, data: data)
            try await readAll(transport, peer, pool, [(key, data)], drives: ["d1"])
        }
        node?.kill()
        transport.closeAll()
        return ok
    }

    static func bytes(_ n: Int, seed: Int) -> [UInt8] {
        var x = UInt64(seed) &* 0x9E37_79B9_7F4A_7C15 | 1
        return (0..<n).map { _ in
            x ^= x << 13; x ^= x >> 7; x ^= x << 17
            return UInt8(truncatingIfNeeded: x)
        }
    }

    func put(_ t: RDMATransport, _ peer: Endpoint, drive: String, key: ChunkKey, data: [UInt8]) async throws {
        let raw = UnsafeMutableRawBufferPointer.allocate(byteCount: max(data.count, 1), alignment: 4096)
        defer { raw.deallocate() }
        raw.copyBytes(from: data)
        _ = try await t.connection(to: peer).call(.putChunk, head: ChunkRequest(drive: drive, key: key).encoded,
                                                  data: UnsafeRawBufferPointer(rebasing: raw[0..<data.count]), timeoutMs: nil)
    }

    func read(_ t: RDMATransport, _ peer: Endpoint, drive: String, key: ChunkKey, into buffer: UnsafeMutableRawBufferPointer, timeoutMs: Int? = nil) async throws {
        let req = ReadChunkRequest(drive: drive, key: key, offset: 0, length: UInt32(buffer.count)).encoded
        let head = try await t.read(peer, .readChunk, req, into: buffer, timeoutMs: timeoutMs)
        let reply = try ReadChunkReply.decode(head)
        if let bad = reply.firstMismatch(in: UnsafeRawBufferPointer(buffer)) {
            throw CheckFailure(description: "chunk \(key) on \(drive): checksum mismatch at \(bad.offset)")
        }
    }

    func readAll(_ t: RDMATransport, _ peer: Endpoint, _ pool: IOBufferPool, _ chunks: [(ChunkKey, [UInt8])], drives: [String]? = nil) async throws {
        for (i, (key, data)) in chunks.enumerated() {
            let b = try await pool.take(data.count)
            let drive = drives?[i] ?? "d\(i % 2)"
            try await read(t, peer, drive: drive, key: key, into: b.bytes)
            try check(Array(b.bytes) == data, "chunk \(key) on \(drive) read back different bytes")
        }
    }
}

/// The storage node child process.
final class Child: Sendable {
    let process: Process
    let port: UInt16

    init(process: Process, port: UInt16) {
        self.process = process
        self.port = port
    }

    static func start(address: String, port: UInt16, dir: String) throws -> Child {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/proc/self/exe")
        p.arguments = ["serve-storage", "--address", address, "--port", String(port), "--dir", dir]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        // The first line is "READY <port>" (or why it failed).
        var line = Data()
        while true {
            let b = out.fileHandleForReading.readData(ofLength: 1)
            if b.isEmpty || b == Data([0x0a]) { break }
            line.append(b)
        }
        let text = String(decoding: line, as: UTF8.self)
        guard text.hasPrefix("READY "), let bound = UInt16(text.dropFirst(6)) else {
            p.terminate()
            throw CheckFailure(description: "storage node did not start: \(text)")
        }
        return Child(process: p, port: bound)
    }

    func kill() {
        Glibc.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}
