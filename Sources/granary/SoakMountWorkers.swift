#if canImport(Glibc)
import Glibc
#endif
import Foundation
import GranaryClient
import GranaryCore

/// The soak test's load through the mount, as blocking system calls on threads of their own (as
/// any program reading a mount does; the cooperative pool stays free for the loaders).
///
/// Every read drops the file's cached pages first (`POSIX_FADV_DONTNEED`), so each read reaches
/// the mount process instead of the kernel's page cache — the soak is after the mount's own
/// behaviour over many operations, which page-cache hits would skip.
enum SoakMountWorkers {
    static let ioSize = 256 << 10

    /// Reads random files of the data set under `root` (the mount's view of it) until told to
    /// stop, checking each against its length and CRC32C.
    static func reader(id: Int, root: String, dataset: SoakDataset, recorder: SoakRecorder) {
        let buffer = OwnedBuffer(count: ioSize)
        var rng = UInt64(0x1000 + id) &* 0x9E37_79B9_7F4A_7C15
        var reads = 0
        while !recorder.stopped {
            rng = rng &* 6364136223846793005 &+ 1442695040888963407
            let path = dataset.paths[Int((rng >> 33) % UInt64(dataset.paths.count))]
            guard let want = dataset.expected[path] else { continue }
            let began = FileClient.seconds()
            do {
                let (length, crc) = try readAll(root + "/" + path, buffer: buffer.raw)
                guard length == want.length, crc == want.crc else {
                    throw SoakError.mismatch(path: path, detail: "\(length) bytes, CRC32C \(hex(crc)); expected \(want.length) bytes, \(hex(want.crc))")
                }
                recorder.done(.mountRead, began: began, bytes: length)
                reads += 1
                if recorder.selfTestLeak { leakOnPurpose(path: root + "/" + path, every: reads) }
            } catch let e as SoakError {
                recorder.error("mount reader \(id): \(e)", wrongBytes: e.isWrongBytes)
                usleep(100_000)
            } catch {
                recorder.error("mount reader \(id): \(error)")
                usleep(100_000)
            }
        }
    }

    /// Writes new files under `dir` through the mount until told to stop: each one created,
    /// written, closed (the commit), read back and checked, and the oldest removed once `keep`
    /// are live, so the space in use stays bounded. Removes its files at the end.
    static func writer(id: Int, dir: String, keep: Int, maxSize: Int, recorder: SoakRecorder) {
        let buffer = OwnedBuffer(count: ioSize)
        let readBuffer = OwnedBuffer(count: ioSize)
        var rng = UInt64(0x2000 + id) &* 0x9E37_79B9_7F4A_7C15
        var live: [String] = []
        var seq = 0
        while !recorder.stopped {
            rng = rng &* 6364136223846793005 &+ 1442695040888963407
            let size = 16 << 10 + Int((rng >> 33) % UInt64(max(1, maxSize - (16 << 10))))
            let path = dir + String(format: "/w%02d-%07d.bin", id, seq)
            seq += 1
            do {
                let began = FileClient.seconds()
                let crc = try writeNew(path, size: size, seed: rng, buffer: buffer.raw)
                recorder.done(.mountWrite, began: began)
                live.append(path)
                let (length, got) = try readAll(path, buffer: readBuffer.raw)
                guard length == size, got == crc else {
                    throw SoakError.mismatch(path: path, detail: "read back \(length) bytes, CRC32C \(hex(got)); wrote \(size) bytes, \(hex(crc))")
                }
                recorder.verified(bytes: length)
                while live.count > keep { try remove(live.removeFirst(), recorder) }
            } catch let e as SoakError {
                recorder.error("mount writer \(id): \(e)", wrongBytes: e.isWrongBytes)
                usleep(100_000)
            } catch {
                recorder.error("mount writer \(id): \(error)")
                usleep(100_000)
            }
        }
        for path in live {
            do { try remove(path, recorder) } catch { recorder.error("mount writer \(id): \(error)") }
        }
    }

    /// The self-test's deliberate leak in this (the bench) process: 16 KiB of touched memory per
    /// read and one open descriptor per 10 reads, never given back.
    static func leakOnPurpose(path: String, every reads: Int) {
        if let p = malloc(16 << 10) { memset(p, 1, 16 << 10) }
        if reads % 10 == 0 { _ = open(path, O_RDONLY | O_CLOEXEC) }
    }

    static func remove(_ path: String, _ recorder: SoakRecorder) throws {
        guard unlink(path) == 0 else { throw SoakError.io(call: "unlink", path: path, errno: errno) }
        recorder.removed()
    }

    /// Creates `path` (it must not exist) with `size` pseudo-random bytes from `seed` and closes
    /// it; returns the bytes' CRC32C. A close that fails is the commit failing.
    static func writeNew(_ path: String, size: Int, seed: UInt64, buffer: UnsafeMutableRawBufferPointer) throws -> UInt32 {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw SoakError.io(call: "create", path: path, errno: errno) }
        var state = seed
        var crc: UInt32 = 0
        var done = 0
        do {
            while done < size {
                let piece = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<min(buffer.count, size - done)])
                BenchData.fill(piece, state: &state)
                crc = CRC32C.checksum(UnsafeRawBufferPointer(piece), seed: crc)
                var off = 0
                while off < piece.count {
                    let n = write(fd, piece.baseAddress.map { $0 + off }, piece.count - off)
                    if n < 0 {
                        if errno == EINTR { continue }
                        throw SoakError.io(call: "write", path: path, errno: errno)
                    }
                    off += n
                }
                done += piece.count
            }
        } catch {
            close(fd)
            throw error
        }
        guard close(fd) == 0 else { throw SoakError.io(call: "close", path: path, errno: errno) }
        return crc
    }

    /// Reads a whole file with its cached pages dropped first; its length and CRC32C.
    static func readAll(_ path: String, buffer: UnsafeMutableRawBufferPointer) throws -> (Int, UInt32) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SoakError.io(call: "open", path: path, errno: errno) }
        defer { close(fd) }
        posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED)
        var crc: UInt32 = 0
        var total = 0
        while true {
            let n = read(fd, buffer.baseAddress, buffer.count)
            if n < 0 {
                if errno == EINTR { continue }
                throw SoakError.io(call: "read", path: path, errno: errno)
            }
            if n == 0 { return (total, crc) }
            crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: buffer[0..<n]), seed: crc)
            total += n
        }
    }

    static func hex(_ v: UInt32) -> String { String(format: "%08x", v) }
}
