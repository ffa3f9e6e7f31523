import GranaryCore
import GranaryTransport
import GranaryWire

/// Typed chunk operations against storage nodes, over any `Transport`.
///
/// Guarantees: a ranged read either fills the caller's buffer with bytes that match the checksums
/// the node sent for them, or throws (`corruptRead` naming node, drive, chunk and byte range) — it
/// never returns unchecked bytes. Reads and other idempotent calls are retried once on a fresh
/// connection when the pooled one had closed; puts are not retried.
public struct StorageClient: Sendable {
    public let transport: any Transport

    public init(transport: any Transport) { self.transport = transport }

    /// Stores `data` as chunk `key` on `drive` of `node` (atomically: all of it or nothing).
    public func put(_ node: Endpoint, drive: String, key: ChunkKey, data: UnsafeRawBufferPointer, timeoutMs: Int? = nil) async throws(ClientError) {
        let head = ChunkRequest(drive: drive, key: key).encoded
        _ = try await transported { () async throws(TransportError) in
            try await transport.connection(to: node).call(.putChunk, head: head, data: data, timeoutMs: timeoutMs)
        }
    }

    /// Stores `data` as chunk `key` on `drive` of `node`.
    public func put(_ node: Endpoint, drive: String, key: ChunkKey, data: [UInt8], timeoutMs: Int? = nil) async throws(ClientError) {
        _ = try await transported { () async throws(TransportError) in
            try await transport.call(node, .putChunk, ChunkRequest(drive: drive, key: key).encoded + data, idempotent: false, timeoutMs: timeoutMs)
        }
    }

    /// The whole of chunk `key` (the node verifies it before answering).
    public func get(_ node: Endpoint, drive: String, key: ChunkKey, timeoutMs: Int? = nil) async throws(ClientError) -> [UInt8] {
        try await transported { () async throws(TransportError) in
            try await transport.call(node, .getChunk, ChunkRequest(drive: drive, key: key).encoded, timeoutMs: timeoutMs)
        }
    }

    /// Reads chunk `key`'s bytes `offset..<offset + buffer.count` straight into `buffer` and checks
    /// them there against the checksums the node sent.
    public func read(_ node: Endpoint, drive: String, key: ChunkKey, offset: Int, into buffer: UnsafeMutableRawBufferPointer, timeoutMs: Int? = nil) async throws(ClientError) {
        let request = ReadChunkRequest(drive: drive, key: key, offset: UInt64(offset), length: UInt32(buffer.count)).encoded
        let head = try await transported { () async throws(TransportError) in
            try await transport.read(node, .readChunk, request, into: buffer, timeoutMs: timeoutMs)
        }
        let reply: ReadChunkReply
        do throws(WireError) { reply = try ReadChunkReply.decode(head) } catch {
            throw .badReadAnswer(node: node, drive: drive, key: key, reason: error.description)
        }
        guard reply.dataLength == buffer.count else {
            throw .badReadAnswer(node: node, drive: drive, key: key, reason: "checksums cover \(reply.dataLength) bytes of \(buffer.count)")
        }
        if let bad = reply.firstMismatch(in: UnsafeRawBufferPointer(buffer)) {
            throw .corruptRead(node: node, drive: drive, key: key, offset: offset + bad.offset, length: bad.length, expected: bad.expected, actual: bad.actual)
        }
    }

    /// Deletes chunk `key`.
    public func delete(_ node: Endpoint, drive: String, key: ChunkKey, timeoutMs: Int? = nil) async throws(ClientError) {
        _ = try await transported { () async throws(TransportError) in
            try await transport.call(node, .deleteChunk, ChunkRequest(drive: drive, key: key).encoded, timeoutMs: timeoutMs)
        }
    }

    /// The keys of the chunks on `drive`, sorted.
    public func list(_ node: Endpoint, drive: String, timeoutMs: Int? = nil) async throws(ClientError) -> [ChunkKey] {
        let body = try await transported { () async throws(TransportError) in
            try await transport.call(node, .listChunks, DriveName(drive).encoded, timeoutMs: timeoutMs)
        }
        do throws(WireError) { return try ChunkList.decode(body).keys } catch { throw .transport(.protocolError(node, error)) }
    }

    /// Runs one transport call, its failure becoming `ClientError.transport`.
    private func transported<T>(_ call: () async throws(TransportError) -> T) async throws(ClientError) -> T {
        do { return try await call() } catch { throw .transport(error) }
    }
}
