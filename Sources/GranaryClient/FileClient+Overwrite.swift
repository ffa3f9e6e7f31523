import GranaryCore
import GranaryMeta

extension FileClient {
    /// Writes `bytes` into existing file `id` (named `path` in errors) at `offset`, copy-on-write of
    /// the touched stripes: the extents the write overlaps are read, the new bytes laid over them,
    /// and the result written as new stripes of `layout` (default: the layout of the first stripe
    /// touched, else of new files in the file's directory); then one metadata transaction swaps the
    /// extents and sets the size. Readers see the file before or after the write, never a mix, and
    /// the old stripes stay readable until collection finds them unreferenced. A write past the end
    /// grows the file (a gap reads as zeros). When another writer changed the same extents first,
    /// the write is prepared again from the new state (three tries, then `.meta(.fileChanged)`).
    @discardableResult
    public func write(_ id: InodeID, path: String, at offset: Int64, bytes: UnsafeRawBufferPointer,
                      layout given: StripeLayout? = nil) async throws(ClientError) -> Inode {
        guard offset >= 0, offset <= Int64.max - Int64(bytes.count) else {
            throw .meta(.invalidSize(inode: id, size: offset))
        }
        if bytes.isEmpty { return try await meta.getattr(id) }
        var lastError: ClientError = .meta(.fileChanged(id))
        for _ in 0..<3 {
            let map = try await meta.fileMap(id)
            let end = offset + Int64(bytes.count)
            let touched = map.extents.filter { $0.fileEnd > offset && $0.fileOffset < end }
            let start = min(offset, touched.first?.fileOffset ?? offset)
            let stop = max(end, touched.last?.fileEnd ?? end)
            let region = OwnedBuffer(count: Int(stop - start))
            // The old bytes of the region (zeros in holes and past the end), then the new ones.
            let oldEnd = min(stop, map.inode.size)
            if oldEnd > start {
                _ = try await read(map, path: path, offset: start, into: UnsafeMutableRawBufferPointer(rebasing: region.raw[0..<Int(oldEnd - start)]))
            }
            if !bytes.isEmpty {
                UnsafeMutableRawBufferPointer(rebasing: region.raw[Int(offset - start)..<Int(end - start)]).copyMemory(from: bytes)
            }
            var layout = given
            if layout == nil, let first = touched.first, let s = map.stripes[first.stripe] { layout = s.targetLayout }
            if layout == nil {
                let (dir, _) = try split(path)
                layout = try await layoutForNewFiles(in: try await meta.resolve(dir).id)
            }
            guard let layout else { throw .meta(.invalidLayout(inode: id, reason: "no layout for the rewritten stripes")) }
            let (stripes, extents) = try await writeData(file: path, layout: layout, size: Int64(region.count)) { (at, buf) throws(ClientError) in
                buf.copyMemory(from: UnsafeRawBufferPointer(rebasing: region.raw[Int(at)..<(Int(at) + buf.count)]))
            }
            let placed = extents.map { e in Extent(fileOffset: e.fileOffset + start, stripe: e.stripe, stripeOffset: e.stripeOffset, length: e.length) }
            do {
                return try await meta.rewriteFile(id, replacing: touched, with: placed, stripes: stripes, size: max(map.inode.size, end))
            } catch {
                // The stripes just written are orphans now; collection removes them.
                guard case .meta(.fileChanged) = error else { throw error }
                lastError = error
            }
        }
        throw lastError
    }

    /// `write(_:path:at:bytes:layout:)` from an array.
    @discardableResult
    public func write(_ id: InodeID, path: String, at offset: Int64, bytes: [UInt8]) async throws(ClientError) -> Inode {
        let buffer = OwnedBuffer(count: bytes.count)
        bytes.withUnsafeBytes { buffer.raw.copyMemory(from: $0) }
        return try await write(id, path: path, at: offset, bytes: UnsafeRawBufferPointer(buffer.raw))
    }

    /// Writes `bytes` as new stripes of `layout` (full stripes, the last one shorter) and returns
    /// them with extents for file offsets `at ..< at + bytes.count`. Nothing is committed: pass
    /// them to `MetaClient.rewriteFile` or `commitFiles`.
    public func writeRegion(file: String, layout: StripeLayout, at: Int64, bytes: UnsafeRawBufferPointer) async throws(ClientError) -> (stripes: [Stripe], extents: [Extent]) {
        let (stripes, extents) = try await writeData(file: file, layout: layout, size: Int64(bytes.count)) { (o, buf) throws(ClientError) in
            buf.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[Int(o)..<(Int(o) + buf.count)]))
        }
        return (stripes, extents.map { Extent(fileOffset: $0.fileOffset + at, stripe: $0.stripe, stripeOffset: $0.stripeOffset, length: $0.length) })
    }

    /// `writeRegion` of the first `count` bytes of `buffer` (for callers that cannot hand a raw
    /// pointer across an await, such as actors).
    public func writeRegion(file: String, layout: StripeLayout, at: Int64, buffer: OwnedBuffer, count: Int) async throws(ClientError) -> (stripes: [Stripe], extents: [Extent]) {
        try await writeRegion(file: file, layout: layout, at: at, bytes: UnsafeRawBufferPointer(rebasing: buffer.raw[0..<count]))
    }

    /// `write(_:path:at:bytes:layout:)` of the first `count` bytes of `buffer`.
    @discardableResult
    public func write(_ id: InodeID, path: String, at offset: Int64, buffer: OwnedBuffer, count: Int, layout: StripeLayout? = nil) async throws(ClientError) -> Inode {
        try await write(id, path: path, at: offset, bytes: UnsafeRawBufferPointer(rebasing: buffer.raw[0..<count]), layout: layout)
    }
}
