import Foundation

/// Control-plane bodies (registration, heartbeats, the cluster map) are JSON: they are small, rare,
/// and change shape as the cluster grows features, which JSON absorbs with optional fields. The data
/// path (chunk reads and writes) stays binary.
public enum JSONMessage {
    public static func encode<T: Encodable>(_ value: T) -> [UInt8] {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        // Encoding our own Codable types cannot fail (no floats that are NaN, no custom throwing encoders).
        return (try? Array(e.encode(value))) ?? Array("{}".utf8)
    }

    public static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8], message: MessageType) throws(WireError) -> T {
        do {
            return try JSONDecoder().decode(type, from: Data(bytes))
        } catch let DecodingError.keyNotFound(key, _) {
            throw .malformed(type: message, field: key.stringValue, reason: "missing")
        } catch let DecodingError.typeMismatch(_, ctx), let DecodingError.valueNotFound(_, ctx), let DecodingError.dataCorrupted(ctx) {
            let field = ctx.codingPath.map(\.stringValue).joined(separator: ".")
            throw .malformed(type: message, field: field.isEmpty ? "json" : field, reason: ctx.debugDescription)
        } catch {
            throw .malformed(type: message, field: "json", reason: "\(error)")
        }
    }
}
