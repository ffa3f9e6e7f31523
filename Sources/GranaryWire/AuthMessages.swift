/// The server's opening message on every connection: a fresh random nonce to prove the secret against.
public struct AuthChallenge: WirePayload, Equatable {
    public static let messageType = MessageType.authChallenge
    public static let nonceSize = 32
    public var serverNonce: [UInt8]

    public init(serverNonce: [UInt8]) { self.serverNonce = serverNonce }

    public func encode(into w: inout WireWriter) { w.blob(serverNonce) }

    public static func decode(from r: inout WireReader) throws(WireError) -> AuthChallenge {
        let n = try r.blob("server_nonce", limit: nonceSize)
        guard n.count == nonceSize else { throw .malformed(type: messageType, field: "server_nonce", reason: "must be \(nonceSize) bytes") }
        return AuthChallenge(serverNonce: n)
    }
}

/// The client's proof: its own nonce and HMAC-SHA256(secret, client label | server nonce | client nonce).
public struct AuthResponse: WirePayload, Equatable {
    public static let messageType = MessageType.authResponse
    public var clientNonce: [UInt8]
    public var mac: [UInt8]

    public init(clientNonce: [UInt8], mac: [UInt8]) {
        self.clientNonce = clientNonce
        self.mac = mac
    }

    public func encode(into w: inout WireWriter) {
        w.blob(clientNonce)
        w.blob(mac)
    }

    public static func decode(from r: inout WireReader) throws(WireError) -> AuthResponse {
        let n = try r.blob("client_nonce", limit: AuthChallenge.nonceSize)
        guard n.count == AuthChallenge.nonceSize else { throw .malformed(type: messageType, field: "client_nonce", reason: "must be 32 bytes") }
        let mac = try r.blob("mac", limit: 64)
        return AuthResponse(clientNonce: n, mac: mac)
    }
}

/// The server's proof back (mutual authentication): HMAC-SHA256(secret, server label | client nonce | server nonce).
public struct AuthResult: WirePayload, Equatable {
    public static let messageType = MessageType.authResult
    public var mac: [UInt8]

    public init(mac: [UInt8]) { self.mac = mac }

    public func encode(into w: inout WireWriter) { w.blob(mac) }

    public static func decode(from r: inout WireReader) throws(WireError) -> AuthResult {
        AuthResult(mac: try r.blob("mac", limit: 64))
    }
}
