import Crypto
import GranaryCore
import GranaryWire

/// HMAC-SHA256 challenge–response over the cluster secret, in both directions: the client proves it
/// knows the secret, then the server proves it too, so neither talks to an impostor. Nonces are
/// fresh per connection, so a recorded exchange cannot be replayed. Comparisons are constant-time.
public struct Authenticator: Sendable {
    private let secret: ClusterSecret

    public init(secret: ClusterSecret) { self.secret = secret }

    static let clientLabel = Array("granary-auth-v1 client".utf8)
    static let serverLabel = Array("granary-auth-v1 server".utf8)

    public static func nonce() -> [UInt8] {
        var rng = SystemRandomNumberGenerator()
        return (0..<AuthChallenge.nonceSize).map { _ in UInt8.random(in: 0...255, using: &rng) }
    }

    func mac(_ label: [UInt8], _ a: [UInt8], _ b: [UInt8]) -> [UInt8] {
        var h = HMAC<SHA256>(key: SymmetricKey(data: secret.bytes))
        h.update(data: label)
        h.update(data: a)
        h.update(data: b)
        return Array(h.finalize())
    }

    /// A name for the cluster that is safe to show and store (the client cache keeps each
    /// cluster's entries under it): 16 hex digits of an HMAC of a fixed label, so it reveals nothing
    /// of the secret and differs between clusters.
    public var clusterFingerprint: String {
        mac(Array("granary-cluster-fingerprint-v1".utf8), [], []).prefix(8).map { b in
            let h = String(b, radix: 16)
            return h.count == 1 ? "0" + h : h
        }.joined()
    }

    public func clientProof(serverNonce: [UInt8], clientNonce: [UInt8]) -> [UInt8] {
        mac(Self.clientLabel, serverNonce, clientNonce)
    }

    public func serverProof(serverNonce: [UInt8], clientNonce: [UInt8]) -> [UInt8] {
        mac(Self.serverLabel, clientNonce, serverNonce)
    }

    public func verifyClient(_ r: AuthResponse, serverNonce: [UInt8]) -> Bool {
        Self.constantTimeEqual(r.mac, clientProof(serverNonce: serverNonce, clientNonce: r.clientNonce))
    }

    public func verifyServer(_ r: AuthResult, serverNonce: [UInt8], clientNonce: [UInt8]) -> Bool {
        Self.constantTimeEqual(r.mac, serverProof(serverNonce: serverNonce, clientNonce: clientNonce))
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for i in 0..<a.count { diff |= a[i] ^ b[i] }
        return diff == 0
    }
}
