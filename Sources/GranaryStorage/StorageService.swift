import GranaryCore
import GranaryTransport
import GranaryWire
import Logging

/// Serves chunk requests (put, get, ranged read, delete, list, drive status) from a node's
/// `ChunkStore` over any transport.
///
/// Guarantees every failure reaches the client as a `RemoteError` whose code says what kind it is
/// (not found, corrupt, drive full, read-only, unavailable, I/O) and whose message names the drive
/// and chunk; a failing drive or a malformed request affects only that request.
public struct StorageService: RequestHandler {
    let store: ChunkStore
    let logger: Logger
    /// Ranged reads land here before they are sent; reused, so no answer pays for fresh pages.
    /// Answer buffers; an RDMA node passes one registered with its server, so read answers go out
    /// by one-sided writes straight from them.
    let buffers: BufferPool
    /// Testing only: chunk reads are answered this many milliseconds late.
    let readLatencyMs: Int

    public init(store: ChunkStore, logger: Logger, injectReadLatencyMs: Int = 0, buffers: BufferPool = BufferPool()) {
        self.store = store
        self.buffers = buffers
        self.logger = logger
        self.readLatencyMs = injectReadLatencyMs
    }

    /// Reads (ranged and whole) run on the connection's thread; everything else as a task (reads
    /// too while a latency is injected, so delayed reads overlap as they would on a slow drive).
    public func handleInline(_ request: Request) -> Response? {
        guard readLatencyMs == 0 else { return nil }
        switch request.type {
        case .readChunk, .getChunk: return answer(request)
        default: return nil
        }
    }

    public func handle(_ request: Request) async -> Response {
        if readLatencyMs > 0, request.type == .readChunk || request.type == .getChunk {
            try? await Task.sleep(nanoseconds: UInt64(readLatencyMs) * 1_000_000)
        }
        return answer(request)
    }

    private func answer(_ request: Request) -> Response {
        do {
            return try serve(request)
        } catch let e as WireError {
            return .badRequest(e)
        } catch let e as StorageError {
            return .error(Self.remote(e))
        } catch {
            return .error(RemoteError(.internalError, "\(error)"))
        }
    }

    private func serve(_ request: Request) throws -> Response {
        switch request.type {
        case .ping:
            return .ok(request.body)
        case .putChunk:
            return try request.body.withUnsafeBytes { raw throws -> Response in
                let (header, dataOffset) = try ChunkRequest.decodeHead(raw, type: .putChunk)
                try store.drive(named: header.drive).put(header.key, data: UnsafeRawBufferPointer(rebasing: raw[dataOffset...]))
                return .empty
            }
        case .getChunk:
            let r = try ChunkRequest.decode(request.body, type: .getChunk)
            return .ok(try store.drive(named: r.drive).get(r.key))
        case .readChunk:
            // The reader checks the data against the segment checksums in the head.
            let r = try ReadChunkRequest.decode(request.body)
            let drive = try store.drive(named: r.drive)
            let buffer = buffers.take(Int(r.length))
            let segments = try drive.readForTransfer(r.key, offset: Int(r.offset), into: buffer.bytes)
            return .data(head: ReadChunkReply(segments: segments).encoded, .buffer(buffer))
        case .deleteChunk:
            let r = try ChunkRequest.decode(request.body, type: .deleteChunk)
            try store.drive(named: r.drive).delete(r.key)
            return .empty
        case .listChunks:
            let r = try DriveName.decode(request.body)
            return .ok(ChunkList(keys: try store.drive(named: r.name).list()).encoded)
        case .driveStatus:
            return .ok(JSONMessage.encode(store.drives().map(\.info)))
        default:
            return .error(RemoteError(.unsupported, "a storage node does not serve \(request.type)"))
        }
    }

    /// The wire form of a storage error: its kind as a code, its full sentence as the message.
    static func remote(_ e: StorageError) -> RemoteError {
        let code: RemoteError.Code
        switch e {
        case .chunkNotFound: code = .notFound
        case .corruptChunk: code = .corrupt
        case .rangeOutOfBounds: code = .rangeOutOfBounds
        case .driveFull: code = .driveFull
        case .driveReadOnly: code = .driveReadOnly
        case .driveMissing, .notADirectory, .driveUnavailable: code = .driveUnavailable
        case .io: code = .io
        case .unknownDrive, .invalidDriveName: code = .notFound
        }
        return RemoteError(code, e.description)
    }
}
