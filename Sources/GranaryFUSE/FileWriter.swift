#if canImport(Glibc)
import Glibc
#endif
import GranaryClient
import GranaryCore
import GranaryMeta

/// One file open for writing through the mount.
///
/// A new file (create, or open with O_TRUNC) is written into a hidden temporary inode: full
/// stripes go to the storage nodes as the bytes arrive in order, `persist` (fsync) records them on
/// that inode, and `commit` (at close) renames it over the target name — the file appears whole,
/// in one step, or not at all (`discard`, when the writer was killed). A write out of order turns
/// the rest into copy-on-write overwrites of the inode. An existing file opened without O_TRUNC is
/// changed in place by copy-on-write overwrites, each visible when it returns.
actor FileWriter {
    let client: FileClient
    let inode: InodeID
    let layout: StripeLayout
    /// Where the temporary inode lives, and where it goes at `commit`; nil when writing in place.
    let temporary: (dir: InodeID, name: String)?
    let target: (dir: InodeID, name: String)?
    private var streaming: Bool
    /// Bytes `0 ..< recorded` are on the inode; `recorded ..< recorded + pendingCount` wait in `pending`.
    private var recorded: Int64 = 0
    private var recordedExtents: [Extent] = []
    private let pending: OwnedBuffer
    private var pendingCount = 0
    private var committed = false
    /// Bytes were written since the writer was made.
    private var written = false
    /// A process holding the file was killed while it was open: never commit.
    private(set) var killed = false

    init(client: FileClient, inode: InodeID, layout: StripeLayout, temporary: (InodeID, String)?, target: (InodeID, String)?) {
        self.client = client
        self.inode = inode
        self.layout = layout
        self.temporary = temporary.map { (dir: $0.0, name: $0.1) }
        self.target = target.map { (dir: $0.0, name: $0.1) }
        streaming = temporary != nil
        pending = OwnedBuffer(count: temporary != nil ? layout.stripeDataSize : 0)
    }

    nonisolated var label: String { "inode \(inode.rawValue)" }

    func write(at offset: Int64, _ data: OwnedBuffer) async throws -> Int {
        let bytes = UnsafeRawBufferPointer(data.raw)
        written = true
        if streaming && offset == recorded + Int64(pendingCount) {
            var done = 0
            while done < bytes.count {
                let n = min(bytes.count - done, pending.count - pendingCount)
                UnsafeMutableRawBufferPointer(rebasing: pending.raw[pendingCount..<(pendingCount + n)])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[done..<(done + n)]))
                pendingCount += n
                done += n
                if pendingCount == pending.count { try await persist() }
            }
            return bytes.count
        }
        if streaming {
            // Out of order: record what has been streamed, then overwrite copy-on-write from here on.
            try await persist()
            streaming = false
        }
        try await client.write(inode, path: label, at: offset, buffer: data, count: data.count, layout: layout)
        return bytes.count
    }

    /// Writes the bytes waiting in `pending` as a stripe and records every streamed stripe on the
    /// inode (durable, not yet visible under the target name).
    func persist() async throws {
        guard streaming, pendingCount > 0 else { return }
        let (stripes, extents) = try await client.writeRegion(file: label, layout: layout, at: recorded, buffer: pending, count: pendingCount)
        try await client.meta.rewriteFile(inode, replacing: [], with: extents, stripes: stripes, size: recorded + Int64(pendingCount))
        recordedExtents += extents
        recorded += Int64(pendingCount)
        pendingCount = 0
    }

    /// Makes the file visible under its target name (once; later calls only persist). Without
    /// `force`, a file nothing was written to yet stays hidden: programs such as `dd` close a
    /// duplicate descriptor right after opening, and that close must not publish an empty file.
    func commit(force: Bool) async throws {
        try await persist()
        guard !committed, !killed, force || written, let temporary, let target else { return }
        try await client.meta.rename(temporary.dir, temporary.name, to: target.dir, target.name)
        committed = true
    }

    func markKilled() { killed = true }

    /// Drops a file that was never committed.
    func discard() async {
        guard !committed, let temporary else { return }
        committed = true
        try? await client.meta.unlink(temporary.dir, temporary.name)
    }
}
