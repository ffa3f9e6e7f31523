/// A TCP address `host:port` (IPv4 literal, `localhost`, or a host name; `[v6]:port` for IPv6).
///
/// Guarantees a non-empty host and a port in 1...65535 (0 only where `allowAnyPort` was asked
/// for, meaning "pick a free port" when listening). A parsed host is printable ASCII without
/// brackets, so `description` always parses back to the same endpoint.
public struct Endpoint: Hashable, Codable, Sendable, CustomStringConvertible {
    public let host: String
    public let port: UInt16

    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port`; `nil` when either part is missing or the port is out of range.
    public init?(parsing s: String, allowAnyPort: Bool = false) {
        var hostPart: Substring
        var portPart: Substring
        if s.hasPrefix("[") {
            guard let close = s.firstIndex(of: "]") else { return nil }
            hostPart = s[s.index(after: s.startIndex)..<close]
            let rest = s[s.index(after: close)...]
            guard rest.hasPrefix(":") else { return nil }
            portPart = rest.dropFirst()
        } else {
            guard let colon = s.lastIndex(of: ":") else { return nil }
            hostPart = s[..<colon]
            portPart = s[s.index(after: colon)...]
        }
        // A host such as `,::1]` (from `,::1]:7402`) was accepted and printed as `[,::1]]:7402`,
        // which does not parse: one storage node heartbeating that address made the cluster map
        // undecodable for every client (found by ops/fuzz). Host names and IP literals are ASCII.
        guard !hostPart.isEmpty, hostPart.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F && $0 != "[" && $0 != "]" }),
              let port = UInt16(portPart), port > 0 || allowAnyPort else { return nil }
        self.init(host: String(hostPart), port: port)
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    public init(from decoder: any Decoder) throws {
        let s = try decoder.singleValueContainer().decode(String.self)
        guard let e = Endpoint(parsing: s) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "invalid endpoint '\(s)'"))
        }
        self = e
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}
