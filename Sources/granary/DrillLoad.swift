import Foundation
import GranaryClient
import GranaryCore
import Synchronization

/// The steady load a fault drill runs under: writers that write new files of random sizes (bytes
/// from a seeded generator, CRC32C and size remembered) and read each back at once, and readers
/// that read random committed files; every byte read is checked against the remembered checksum.
///
/// Guarantees: a file enters `committed` only after its write returned success; a write that
/// failed goes to `uncertain` (it may or may not exist: if it does, it must hold its bytes); a read
/// that returns bytes other than the file's is counted in `wrongBytes` and never as a success;
/// every failure is counted, never dropped. Files are never replaced or deleted, so a file's
/// content is fixed from its commit on.
final class DrillLoad: Sendable {
    /// A file the load wrote: what its bytes must be.
    struct FileRecord: Sendable, Hashable {
        var path: String
        var size: Int
        var seed: UInt64
        var crc: UInt32
    }

    /// The counters at one moment; scenarios report differences of two.
    struct Counters: Sendable, Codable, Equatable {
        var reads = 0
        var writes = 0
        var readErrors = 0
        var writeErrors = 0
        var wrongBytes = 0
        var bytesVerified: Int64 = 0
        var bytesWritten: Int64 = 0

        static func - (a: Counters, b: Counters) -> Counters {
            Counters(reads: a.reads - b.reads, writes: a.writes - b.writes, readErrors: a.readErrors - b.readErrors,
                     writeErrors: a.writeErrors - b.writeErrors, wrongBytes: a.wrongBytes - b.wrongBytes,
                     bytesVerified: a.bytesVerified - b.bytesVerified, bytesWritten: a.bytesWritten - b.bytesWritten)
        }
    }

    let directory: String
    let minSize: Int
    let maxSize: Int
    /// Writers pause so that together they write about this many bytes per second (the drill is
    /// about faults, not throughput; an unbounded writer makes every rebuild and scrub longer).
    let writeBytesPerSecond: Int

    let committed = Mutex<[FileRecord]>([])
    let uncertain = Mutex<[FileRecord]>([])
    private let counters = Mutex(Counters())
    /// Newest last, at most 20 of each.
    let errorSamples = Mutex<[String]>([])
    let wrongSamples = Mutex<[String]>([])
    let readsInFlight = Atomic<Int>(0)
    let writesInFlight = Atomic<Int>(0)
    let stop = Atomic<Bool>(false)
    private let nextFile = Atomic<Int>(0)

    init(directory: String, minSize: Int, maxSize: Int, writeBytesPerSecond: Int) {
        self.directory = directory
        self.minSize = minSize
        self.maxSize = max(maxSize, minSize)
        self.writeBytesPerSecond = writeBytesPerSecond
    }

    var snapshot: Counters { counters.withLock { $0 } }

    // MARK: Content

    /// The bytes of a file with `seed` and `size`: SplitMix64 words, so any byte that changes is
    /// caught and no two files share content.
    static func content(seed: UInt64, size: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: size)
        var state = seed
        bytes.withUnsafeMutableBytes { raw in
            var offset = 0
            while offset < size {
                state &+= 0x9E37_79B9_7F4A_7C15
                var z = state
                z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
                z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
                z ^= z >> 31
                if offset + 8 <= size {
                    raw.storeBytes(of: z.littleEndian, toByteOffset: offset, as: UInt64.self)
                } else {
                    for i in offset..<size { raw[i] = UInt8(truncatingIfNeeded: z >> (8 * UInt64(i - offset))) }
                }
                offset += 8
            }
        }
        return bytes
    }

    /// Whether `bytes` are exactly the file's (size, then CRC32C over every byte).
    static func matches(_ bytes: [UInt8], _ record: FileRecord) -> Bool {
        bytes.count == record.size && CRC32C.checksum(bytes) == record.crc
    }

    // MARK: Running

    /// Writes `count` files before the load starts, so readers and rebuilds have data from the
    /// first second. Throws the first failure: the cluster is healthy here.
    func seed(_ client: FileClient, count: Int) async throws(ClientError) {
        for _ in 0..<count {
            let record = nextRecord()
            try await client.writeFile(record.path, bytes: Self.content(seed: record.seed, size: record.size))
            committed.withLock { $0.append(record) }
            counters.withLock { $0.writes += 1; $0.bytesWritten += Int64(record.size) }
        }
    }

    /// Runs `writers` writers and `readers` readers until `stop` is set.
    func run(_ client: FileClient, writers: Int, readers: Int) async {
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<writers { group.addTask { await self.writeLoop(client, writers: writers) } }
            for r in 0..<readers { group.addTask { await self.readLoop(client, seed: UInt64(r + 1)) } }
        }
    }

    private func nextRecord() -> FileRecord {
        let n = nextFile.wrappingAdd(1, ordering: .relaxed).oldValue
        var rng = SystemRandomNumberGenerator()
        // Sizes spread over small files (one short stripe) and multi-stripe ones.
        let size = Int.random(in: minSize...maxSize, using: &rng)
        let seed = UInt64.random(in: 1...UInt64.max, using: &rng)
        let crc = CRC32C.checksum(Self.content(seed: seed, size: size))
        return FileRecord(path: "\(directory)/f\(n).bin", size: size, seed: seed, crc: crc)
    }

    private func writeLoop(_ client: FileClient, writers: Int) async {
        while !stop.load(ordering: .relaxed) {
            let record = nextRecord()
            let bytes = Self.content(seed: record.seed, size: record.size)
            let started = FileClient.seconds()
            writesInFlight.add(1, ordering: .relaxed)
            do {
                try await client.writeFile(record.path, bytes: bytes)
                writesInFlight.subtract(1, ordering: .relaxed)
                committed.withLock { $0.append(record) }
                counters.withLock { $0.writes += 1; $0.bytesWritten += Int64(record.size) }
                // Read it back at once: the first reader of a new file is its writer.
                await verify(client, record)
            } catch {
                writesInFlight.subtract(1, ordering: .relaxed)
                uncertain.withLock { $0.append(record) }
                counters.withLock { $0.writeErrors += 1 }
                note(errorSamples, "write \(record.path): \(error)")
                try? await Task.sleep(for: .milliseconds(200))
            }
            // Pace to the byte rate: this file's share of a second, less the time it took.
            let share = Double(record.size * writers) / Double(max(writeBytesPerSecond, 1))
            let rest = share - (FileClient.seconds() - started)
            if rest > 0 { try? await Task.sleep(for: .milliseconds(Int(rest * 1000))) }
        }
    }

    private func readLoop(_ client: FileClient, seed: UInt64) async {
        var rng = SystemRandomNumberGenerator()
        while !stop.load(ordering: .relaxed) {
            guard let record = committed.withLock({ $0.randomElement(using: &rng) }) else {
                try? await Task.sleep(for: .milliseconds(50))
                continue
            }
            if await !verify(client, record) { try? await Task.sleep(for: .milliseconds(200)) }
            // A short pause: the readers must not starve the cluster's own processes of CPU on a
            // small machine (missed heartbeats would be faults the drill did not inject).
            try? await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Reads `record` and checks every byte; counts the outcome. True when the bytes were right.
    @discardableResult
    func verify(_ client: FileClient, _ record: FileRecord) async -> Bool {
        readsInFlight.add(1, ordering: .relaxed)
        defer { readsInFlight.subtract(1, ordering: .relaxed) }
        do {
            let bytes = try await client.readFile(record.path)
            if Self.matches(bytes, record) {
                counters.withLock { $0.reads += 1; $0.bytesVerified += Int64(bytes.count) }
                return true
            }
            counters.withLock { $0.wrongBytes += 1 }
            note(wrongSamples, "\(record.path): \(bytes.count) bytes read, CRC32C \(String(CRC32C.checksum(bytes), radix: 16)); expected \(record.size) bytes, CRC32C \(String(record.crc, radix: 16))")
            return false
        } catch {
            counters.withLock { $0.readErrors += 1 }
            note(errorSamples, "read \(record.path): \(error)")
            return false
        }
    }

    private func note(_ list: borrowing Mutex<[String]>, _ message: String) {
        list.withLock { l in
            l.append(message)
            if l.count > 20 { l.removeFirst(l.count - 20) }
        }
    }
}
