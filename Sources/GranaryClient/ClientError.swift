import GranaryCore
import GranaryTransport
import GranaryWire

/// Why a client operation failed, with what it was working on.
public enum ClientError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The transport failed, or the node answered with an error (`TransportError.remote`).
    case transport(TransportError)
    /// Bytes of a chunk read did not match the checksum the node sent for them: corrupted on the
    /// drive, in the node's memory or on the way. Nothing of the read may be used.
    case corruptRead(node: Endpoint, drive: String, key: ChunkKey, offset: Int, length: Int, expected: UInt32, actual: UInt32)
    /// The node's read answer did not describe the bytes asked for.
    case badReadAnswer(node: Endpoint, drive: String, key: ChunkKey, reason: String)

    public var description: String {
        switch self {
        case let .transport(e): return e.description
        case let .corruptRead(node, drive, key, offset, length, expected, actual):
            return "chunk \(key) on \(node) drive \(drive): bytes \(offset)..<\(offset + length) arrived with CRC32C "
                + "\(hex(actual)) where the node sent \(hex(expected)) (corrupt on the drive or on the way)"
        case let .badReadAnswer(node, drive, key, reason):
            return "chunk \(key) on \(node) drive \(drive): malformed read answer: \(reason)"
        }
    }

    private func hex(_ v: UInt32) -> String { "0x" + String(v, radix: 16, uppercase: true) }

    /// The node's error, when it answered with one.
    public var remoteError: RemoteError? {
        if case let .transport(t) = self { return t.remoteError }
        return nil
    }
}
