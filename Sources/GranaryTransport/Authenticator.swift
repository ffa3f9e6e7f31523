import Crypto
import GranaryCore
import GranaryWire

/// HMAC-SHA256 challenge–response over the cluster secret, in both directions: the client proves it
/// knows the secret, then the server proves it too, so neither talks to an impostor. Nonces are
/// fresh per connection, so a recorded exchange cannot be replayed. Comparisons are constant-time.
///
/// During a secret rotation (`ClusterKeys` holding a previous secret too) a server accepts a proof
/// made with either secret and answers with the one the client used; a client proves with the
/// current secret and, refused, once more with the previous one (`fallback`) — so a node that has
/// the new file and one that has not yet still talk, in either direction.
public struct Authenticator: Sendable {
    public let keys: ClusterKeys
    /// Prove with the previous secret instead of the current one (the fallback after a refusal).
    let provesWithPrevious: Bool

    public init(secret: ClusterSecret) { self.init(keys: ClusterKeys(secret: secret)) }

    public init(keys: ClusterKeys) {
        self.keys = keys
        self.provesWithPrevious = false
    }

    init(keys: ClusterKeys, provesWithPrevious: Bool) {
        self.keys = keys
        self.provesWithPrevious = provesWithPrevious
    }

    static let clientLabel = Array("granary-auth-v1 client".utf8)
    static let serverLabel = Array("granary-auth-v1 server".utf8)

    public static func nonce() -> [UInt8] {
        var rng = SystemRandomNumberGenerator()
        return (0..<AuthChallenge.nonceSize).map { _ in UInt8.random(in: 0...255, using: &rng) }
    }

    /// The secret this side proves with.
    var proving: ClusterSecret {
        let k = keys.keyring
        return provesWithPrevious ? (k.previous ?? k.current) : k.current
    }

    /// The authenticator to retry with after the peer refused this one's proof: the previous
    /// secret's, while a rotation is under way; nil otherwise.
    public var fallback: Authenticator? {
        guard !provesWithPrevious, keys.keyring.previous != nil else { return nil }
        return Authenticator(keys: keys, provesWithPrevious: true)
    }

    static func mac(_ secret: ClusterSecret, _ label: [UInt8], _ a: [UInt8], _ b: [UInt8]) -> [UInt8] {
        var h = HMAC<SHA256>(key: SymmetricKey(data: secret.bytes))
        h.update(data: label)
        h.update(data: a)
        h.update(data: b)
        return Array(h.finalize())
    }

    /// A name for the cluster that is safe to show and store (the client cache keeps each
    /// cluster's entries under it): the secret file's `cluster-id` when it has one (rotations keep
    /// it), else 16 hex digits of an HMAC of a fixed label, so it reveals nothing of the secret and
    /// differs between clusters.
    public var clusterFingerprint: String {
        let k = keys.keyring
        if let id = k.clusterID { return id }
        return Self.fingerprint(of: k.current)
    }

    /// The fingerprint derived from one secret.
    public static func fingerprint(of secret: ClusterSecret) -> String {
        mac(secret, Array("granary-cluster-fingerprint-v1".utf8), [], []).prefix(8).map { b in
            let h = String(b, radix: 16)
            return h.count == 1 ? "0" + h : h
        }.joined()
    }

    public func clientProof(serverNonce: [UInt8], clientNonce: [UInt8]) -> [UInt8] {
        Self.mac(proving, Self.clientLabel, serverNonce, clientNonce)
    }

    /// The server's proof, made with `secret` (the one the client's proof matched; default: the
    /// current one).
    public func serverProof(serverNonce: [UInt8], clientNonce: [UInt8], with secret: ClusterSecret? = nil) -> [UInt8] {
        Self.mac(secret ?? proving, Self.serverLabel, clientNonce, serverNonce)
    }

    /// The accepted secret the client's proof was made with, or nil: the current one, then the
    /// previous one during a rotation.
    public func secretMatching(_ r: AuthResponse, serverNonce: [UInt8]) -> ClusterSecret? {
        let k = keys.keyring
        for secret in [k.current] + (k.previous.map { [$0] } ?? [])
        where Self.constantTimeEqual(r.mac, Self.mac(secret, Self.clientLabel, serverNonce, r.clientNonce)) {
            return secret
        }
        return nil
    }

    public func verifyClient(_ r: AuthResponse, serverNonce: [UInt8]) -> Bool {
        secretMatching(r, serverNonce: serverNonce) != nil
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
