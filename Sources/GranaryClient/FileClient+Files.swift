#if canImport(Glibc)
import Glibc
#endif
import GranaryCore
import GranaryErasure
import GranaryMeta

extension FileClient {
    // MARK: Reading files

    /// Reads file bytes `offset ..< offset + out.count` (cut at the end of the file) into `out` and
    /// returns how many were read. Holes read as zeros; extents are read `stripesInFlight` at a time.
    public func read(_ map: FileMap, path: String, offset: Int64, into out: UnsafeMutableRawBufferPointer) async throws(ClientError) -> Int {
        guard offset >= 0, offset < map.inode.size else { return 0 }
        let end = min(map.inode.size, offset + Int64(out.count))
        let count = Int(end - offset)
        let target = UnsafeMutableRawBufferPointer(rebasing: out[0..<count])
        target.initializeMemory(as: UInt8.self, repeating: 0)
        var jobs: [(stripe: Stripe, range: Range<Int>, slice: BufferSlice)] = []
        for e in map.extents where e.fileEnd > offset && e.fileOffset < end {
            let lo = max(offset, e.fileOffset), hi = min(end, e.fileEnd)
            guard let s = map.stripes[e.stripe] else { throw .meta(.noSuchStripe(e.stripe)) }
            let from = e.stripeOffset + Int(lo - e.fileOffset)
            let slice = UnsafeMutableRawBufferPointer(rebasing: target[Int(lo - offset)..<Int(hi - offset)])
            jobs.append((s, from..<(from + Int(hi - lo)), BufferSlice(buffer: slice)))
        }
        let cluster = try await clusterMap()
        try await forEachConcurrently(jobs, limit: settings.stripesInFlight) { (job) async throws(ClientError) in
            do throws(ClientError) {
                try await self.readStripe(job.stripe, range: job.range, into: job.slice.buffer, file: path, map: cluster)
            } catch {
                // The stripe may have been rebuilt or re-encoded since the file map was fetched
                // (its old fragments are deleted once the new ones are committed): read it again
                // from its current record before giving up.
                guard case .stripeUnreadable = error, let current = try await self.meta.stripes([job.stripe.id]).first,
                      current.version != job.stripe.version else { throw error }
                try await self.readStripe(current, range: job.range, into: job.slice.buffer, file: path,
                                          map: try await self.clusterMap(fresh: true))
            }
        }
        return count
    }

    /// The whole file at `path`.
    public func readFile(_ path: String) async throws(ClientError) -> [UInt8] {
        let inode = try await authorize(path, .read)
        guard inode.kind == .file else { throw .wrongKind(path: path, expected: "a regular file") }
        let map = try await meta.fileMap(inode.id)
        guard map.inode.size <= Int64(Int.max / 2) else { throw .localFile(path: path, reason: "too large to read into memory") }
        let buffer = OwnedBuffer(count: Int(map.inode.size))
        _ = try await read(map, path: path, offset: 0, into: buffer.raw)
        return buffer.bytes
    }

    /// Reads the whole file in order, `chunk` bytes at a time (at most the file's size), handing
    /// each piece to `body`; the memory is reused, so `body` must not keep it.
    public func stream(_ map: FileMap, path: String, chunk: Int = 16 << 20,
                       _ body: (UnsafeRawBufferPointer) throws(ClientError) -> Void) async throws(ClientError) {
        let buffer = OwnedBuffer(count: Int(min(map.inode.size, Int64(max(chunk, 1)))))
        var offset: Int64 = 0
        while offset < map.inode.size {
            let n = try await read(map, path: path, offset: offset, into: buffer.raw)
            try body(UnsafeRawBufferPointer(rebasing: buffer.raw[0..<n]))
            offset += Int64(n)
        }
    }

    // MARK: Writing files

    /// Writes `size` bytes as full stripes of `layout` (the last one shorter), `stripesInFlight`
    /// at a time, taking each stripe's bytes from `fill(offset, buffer)`. Returns the stripes and
    /// the extents to commit; nothing is visible until they are committed.
    func writeData(file: String, layout: StripeLayout, size: Int64,
                   fill: (Int64, UnsafeMutableRawBufferPointer) throws(ClientError) -> Void) async throws(ClientError) -> (stripes: [Stripe], extents: [Extent]) {
        if size == 0 { return ([], []) }
        let per = Int64(layout.stripeDataSize)
        let n = Int((size + per - 1) / per)
        let first = try await meta.allocateStripes(n)
        var stripes: [Stripe] = []
        var extents: [Extent] = []
        var next = 0
        while next < n {
            // One window of stripes: read them from the source, then write them in parallel.
            let window = min(settings.stripesInFlight, n - next)
            var batch: [(id: UInt64, offset: Int64, data: OwnedBuffer)] = []
            for j in 0..<window {
                let offset = Int64(next + j) * per
                let data = OwnedBuffer(count: Int(min(per, size - offset)))
                try fill(offset, data.raw)
                batch.append((first + UInt64(next + j), offset, data))
            }
            let written = try await mapConcurrently(batch, limit: window) { (item) async throws(ClientError) -> Stripe in
                try await self.writeStripe(id: item.id, layout: layout, data: UnsafeRawBufferPointer(item.data.raw), file: file)
            }
            for (item, stripe) in zip(batch, written) {
                stripes.append(stripe)
                extents.append(Extent(fileOffset: item.offset, stripe: stripe.id, stripeOffset: 0, length: item.data.count))
            }
            next += window
        }
        return (stripes, extents)
    }

    /// Writes `bytes` as the file at `path` (its directory must exist) and commits it; with
    /// `replace` an existing file is swapped for the new one atomically.
    @discardableResult
    public func writeFile(_ path: String, bytes: [UInt8], mode: UInt32 = 0o644, replace: Bool = false) async throws(ClientError) -> Inode {
        let (dir, name) = try split(path)
        let parent = try await authorize(dir, [.write, .execute])
        if replace, settings.identity != nil, try await meta.lookup(parent.id, name) != nil {
            _ = try await authorize(path, .write)
        }
        let layout = try await layoutForNewFiles(in: parent.id)
        let (stripes, extents) = try await writeData(file: path, layout: layout, size: Int64(bytes.count)) { (offset, buf) throws(ClientError) in
            bytes.withUnsafeBytes { src in buf.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[Int(offset)..<(Int(offset) + buf.count)])) }
        }
        let owner = newOwner
        let file = NewFile(parent: parent.id, name: name, mode: mode, uid: owner.uid, gid: owner.gid, size: Int64(bytes.count),
                           extents: extents, replace: replace)
        guard let inode = try await meta.commitFiles(stripes: stripes, files: [file]).first else {
            throw .meta(.notFound(parent: parent.id, name: name))
        }
        return inode
    }

    /// The parent directory and the last name of an absolute path (`/a/b/c` → `/a/b`, `c`).
    public func split(_ path: String) throws(ClientError) -> (String, String) {
        let parts = path.split(separator: "/").map(String.init)
        guard path.hasPrefix("/"), let name = parts.last else {
            throw .meta(.invalidPath(path, reason: "it must be an absolute path below /"))
        }
        return ("/" + parts.dropLast().joined(separator: "/"), name)
    }

    // MARK: Concurrency helpers

    /// Runs `body` on every item, at most `limit` at once; the first failure is thrown after the
    /// running ones finish.
    func forEachConcurrently<T: Sendable>(_ items: [T], limit: Int, _ body: @escaping @Sendable (T) async throws(ClientError) -> Void) async throws(ClientError) {
        _ = try await mapConcurrently(items, limit: limit) { (item) async throws(ClientError) -> Bool in try await body(item); return true }
    }

    /// `body` of every item, in order, at most `limit` running at once.
    func mapConcurrently<T: Sendable, R: Sendable>(_ items: [T], limit: Int, _ body: @escaping @Sendable (T) async throws(ClientError) -> R) async throws(ClientError) -> [R] {
        let results = await withTaskGroup(of: (Int, Result<R, ClientError>).self) { group in
            var out = [Result<R, ClientError>?](repeating: nil, count: items.count)
            var next = 0
            func add() {
                let i = next, item = items[i]
                next += 1
                group.addTask {
                    do throws(ClientError) { return (i, .success(try await body(item))) } catch { return (i, .failure(error)) }
                }
            }
            while next < min(max(1, limit), items.count) { add() }
            for await (i, r) in group {
                out[i] = r
                if next < items.count, case .success = r { add() }
            }
            return out
        }
        var values: [R] = []
        for r in results {
            guard let r else { continue }
            values.append(try r.get())
        }
        guard values.count == items.count else { throw .meta(.invalidPath("", reason: "internal: a concurrent job did not run")) }
        return values
    }
}
