/// The secrets a cluster secret file holds: the current one, and during a rotation the previous
/// one, which is still accepted so that nodes and clients can take the new file one by one without
/// any connection being refused (docs/OPERATIONS.md, "Rotating the cluster secret").
///
/// The file is the current secret as 64 hex digits on the first line; a second such line is the
/// previous secret; `cluster-id HEX` keeps the name the client cache files a cluster under
/// (otherwise derived from the current secret) the same across rotations; `#` starts a comment.
public struct ClusterKeyring: Sendable, Equatable, CustomStringConvertible {
    public var current: ClusterSecret
    public var previous: ClusterSecret?
    /// 16 hex digits, or nil: derived from `current`.
    public var clusterID: String?

    public init(current: ClusterSecret, previous: ClusterSecret? = nil, clusterID: String? = nil) {
        self.current = current
        self.previous = previous
        self.clusterID = clusterID
    }

    /// Never shows a secret; says whether a rotation is under way.
    public var description: String { previous == nil ? "ClusterKeyring(1 secret)" : "ClusterKeyring(2 secrets: rotation in progress)" }

    /// Parses a secret file's text; `path` names it in errors.
    public static func parse(_ text: String, path: String) throws(ClusterSecret.Failure) -> ClusterKeyring {
        var secrets: [ClusterSecret] = []
        var clusterID: String?
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
            guard let first = words.first else { continue }
            if first == "cluster-id" {
                guard words.count == 2, words[1].count == 16, words[1].allSatisfy(\.isHexDigit) else {
                    throw .malformedLine(path: path, line: n + 1, reason: "expected cluster-id and 16 hex digits")
                }
                clusterID = words[1].lowercased()
                continue
            }
            guard words.count == 1, let secret = ClusterSecret(hex: String(first)) else {
                throw .malformedLine(path: path, line: n + 1, reason: "expected 64 hex digits")
            }
            guard secrets.count < 2 else { throw .malformedLine(path: path, line: n + 1, reason: "a third secret (a file holds the current one and at most the previous one)") }
            secrets.append(secret)
        }
        guard let current = secrets.first else { throw .malformed(path: path) }
        return ClusterKeyring(current: current, previous: secrets.count > 1 ? secrets[1] : nil, clusterID: clusterID)
    }

    /// The file's text.
    public var text: String {
        var lines = [current.hex]
        if let previous { lines.append(previous.hex + "  # previous secret, still accepted until `granary cluster rotate-secret --finish`") }
        if let clusterID { lines.append("cluster-id \(clusterID)") }
        return lines.joined(separator: "\n") + "\n"
    }
}
