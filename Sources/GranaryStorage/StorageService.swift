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
    /// Per-drive measurements, reported with each heartbeat.
    let monitors: [String: DriveMonitor]
    /// Tests and drills: per-drive faults.
    let faults: FaultInjector
    /// Chunks read whole recently, answered from memory (nil: every read goes to the drive).
    public let cache: ChunkCache?

    public init(store: ChunkStore, logger: Logger, injectReadLatencyMs: Int = 0, buffers: BufferPool = BufferPool(),
                faults: FaultInjector = FaultInjector(enabled: false), cache: ChunkCache? = nil) {
        self.store = store
        self.cache = cache
        self.buffers = buffers
        self.logger = logger
        self.readLatencyMs = injectReadLatencyMs
        self.faults = faults
        var monitors: [String: DriveMonitor] = [:]
        for d in store.drives() { monitors[d.id.name] = DriveMonitor(drive: d.id.description) }
        self.monitors = monitors
    }

    /// Reads (ranged and whole) run on the connection's thread; everything else as a task (reads
    /// too while a latency or fault is injected, so delayed reads overlap as they would on a slow drive).
    public func handleInline(_ request: Request) -> Response? {
        guard readLatencyMs == 0, !faults.active else { return nil }
        switch request.type {
        case .readChunk, .getChunk: return answer(request, delay: 0)
        default: return nil
        }
    }

    public func handle(_ request: Request) async -> Response {
        var delay = 0.0
        if readLatencyMs > 0, request.type == .readChunk || request.type == .getChunk {
            delay = Double(readLatencyMs) / 1000
        }
        return await answerLater(request, delay: delay)
    }

    private func answerLater(_ request: Request, delay: Double) async -> Response {
        var delay = delay
        var failure: (String, String)?
        if faults.active, let name = Self.driveName(of: request) {
            let drawn = faults.draw(name)
            delay += drawn.delaySeconds
            if let f = drawn.failure { failure = (name, f) }
        }
        let start = DriveMonitor.monotonic()
        if delay > 0 { try? await Task.sleep(nanoseconds: UInt64(delay * 1e9)) }
        if let (name, fault) = failure, let id = DriveID(node: store.node, name: name) {
            // Counted as the drive's own failure, as a real I/O error would be.
            monitors[name]?.record(Self.operation(request.type) ?? .read, seconds: DriveMonitor.monotonic() - start, bytes: 0, failed: true)
            return .error(Self.remote(.injectedFault(drive: id, fault: fault)))
        }
        return answer(request, delay: DriveMonitor.monotonic() - start)
    }

    /// What the drive of `request` is, for the chunk operations that have one (without decoding
    /// the rest of the request).
    static func driveName(of request: Request) -> String? {
        guard operation(request.type) != nil else { return nil }
        switch request.type {
        case .readChunk: return try? ReadChunkRequest.decode(request.body).drive
        case .putChunk:
            return try? request.body.withUnsafeBytes { raw in try ChunkRequest.decodeHead(raw, type: .putChunk).0.drive }
        default: return try? ChunkRequest.decode(request.body, type: request.type).drive
        }
    }

    static func operation(_ type: MessageType) -> DriveMonitor.Operation? {
        switch type {
        case .readChunk, .getChunk: return .read
        case .putChunk, .deleteChunk: return .write
        default: return nil
        }
    }

    /// One window of measurements for each drive, and a fresh window.
    public func takeTelemetry() -> [String: DriveTelemetry] {
        monitors.mapValues { $0.take() }
    }

    /// Serves `request`; `delay` is the time it already waited (injected latency), counted in the
    /// drive's latency as a slow drive's would be.
    private func answer(_ request: Request, delay: Double) -> Response {
        let start = DriveMonitor.monotonic()
        var measured: (name: String, bytes: Int)?
        var failed = false, corrupt = false
        defer {
            if let (name, bytes) = measured, let op = Self.operation(request.type) {
                monitors[name]?.record(op, seconds: DriveMonitor.monotonic() - start + delay, bytes: bytes, failed: failed, corrupt: corrupt)
            }
        }
        do {
            return try serve(request) { name, bytes in measured = (name, bytes) }
        } catch let e as WireError {
            return .badRequest(e)
        } catch let e as StorageError {
            switch e {
            case .io, .driveUnavailable: failed = true
            case .corruptChunk: corrupt = true
            default: break
            }
            if measured == nil, let d = e.drive { measured = (d.name, 0) }
            return .error(Self.remote(e))
        } catch {
            return .error(RemoteError(.internalError, "\(error)"))
        }
    }

    private func serve(_ request: Request, measure: (String, Int) -> Void) throws -> Response {
        switch request.type {
        case .ping:
            return .ok(request.body)
        case .putChunk:
            return try request.body.withUnsafeBytes { raw throws -> Response in
                let (header, dataOffset) = try ChunkRequest.decodeHead(raw, type: .putChunk)
                measure(header.drive, raw.count - dataOffset)
                try store.drive(named: header.drive).put(header.key, data: UnsafeRawBufferPointer(rebasing: raw[dataOffset...]))
                cache?.remove(drive: header.drive, key: header.key)
                return .empty
            }
        case .getChunk:
            let r = try ChunkRequest.decode(request.body, type: .getChunk)
            let bytes = try store.drive(named: r.drive).get(r.key)
            measure(r.drive, bytes.count)
            return .ok(bytes)
        case .readChunk:
            // The reader checks the data against the segment checksums in the head.
            let r = try ReadChunkRequest.decode(request.body)
            measure(r.drive, Int(r.length))
            let drive = try store.drive(named: r.drive)
            return try read(r, from: drive)
        case .deleteChunk:
            let r = try ChunkRequest.decode(request.body, type: .deleteChunk)
            measure(r.drive, 0)
            try store.drive(named: r.drive).delete(r.key)
            cache?.remove(drive: r.drive, key: r.key)
            return .empty
        case .listChunks:
            let r = try DriveName.decode(request.body)
            return .ok(ChunkList(keys: try store.drive(named: r.name).list()).encoded)
        case .driveStatus:
            return .ok(JSONMessage.encode(store.drives().map(\.info)))
        case .injectFault:
            let r = try JSONMessage.decode(DriveFaultRequest.self, from: request.body, message: request.type)
            guard faults.enabled else {
                return .error(RemoteError(.unsupported, "fault injection is off on node \(store.node): set fault_injection = true in [cluster] of its config (tests and drills only)"))
            }
            if let problem = r.fault.problem { return .error(RemoteError(.badRequest, "fault for drive \(r.drive): \(problem)")) }
            _ = try store.drive(named: r.drive.name)
            faults.set(r.drive.name, r.fault)
            logger.notice("drive \(r.drive): injected fault \(r.fault.summary)")
            return .ok(JSONMessage.encode(faults.installed))
        default:
            return .error(RemoteError(.unsupported, "a storage node does not serve \(request.type)"))
        }
    }

    /// Answers read `r`: from the chunk cache when it holds the chunk, else from the drive, which
    /// reads the chunk whole for the cache when the read is worth keeping (`Drive.readForTransfer`).
    private func read(_ r: ReadChunkRequest, from drive: Drive) throws(StorageError) -> Response {
        let offset = Int(r.offset), count = Int(r.length)
        if let hit = cache?.lookup(drive: r.drive, key: r.key, path: drive.filePath(for: r.key)) {
            let size = hit.header.dataLength
            guard offset <= size, count <= size - offset else {
                throw .rangeOutOfBounds(drive: drive.id, key: r.key, offset: offset, count: count, length: size)
            }
            return Self.answer(hit, offset..<(offset + count))
        }
        switch try drive.readForTransfer(r.key, offset: offset, count: count, buffers: buffers, wholeUpTo: cache?.maxChunkBytes ?? 0) {
        case let .range(buffer, segments):
            return .data(head: ReadChunkReply(segments: segments).encoded, .buffer(buffer))
        case let .whole(chunk):
            cache?.insert(drive: r.drive, chunk)
            return Self.answer(chunk, offset..<(offset + count))
        }
    }

    /// `range` of a cached chunk, sent from the cache's buffer.
    private static func answer(_ chunk: ChunkCache.Chunk, _ range: Range<Int>) -> Response {
        .data(head: ReadChunkReply(segments: chunk.segments(range)).encoded, .buffer(chunk.data.view(range)))
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
        case .injectedFault: code = .io
        }
        return RemoteError(code, e.description)
    }
}
