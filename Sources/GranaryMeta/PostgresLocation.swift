/// A PostgreSQL metadata location, parsed from `postgres://user[:password]@host[:port]/database`
/// (or `postgresql://…`) with the optional parameters `sslmode=disable`, `connect_timeout=N` and
/// `query_timeout=N` (seconds).
///
/// Guarantees: a value exists only for a complete URL (user, host, port 1…65535, database);
/// `redacted` and every error message built from the URL leave the password out, so a location
/// can be logged and shown safely.
struct PostgresLocation: Sendable, Equatable {
    var user: String
    var password: String?
    var host: String
    var port: Int
    var database: String
    /// Seconds allowed for connecting and logging in (`connect_timeout`), `nil` for the default.
    var connectTimeout: Double?
    /// Seconds one statement may wait for the server's answer before its connection is dropped
    /// (`query_timeout`); a server that stopped answering, or a cut network, then fails the call
    /// instead of holding the manager's thread for as long as TCP keeps trying.
    var queryTimeout: Double = 30
    /// The URL without its password, for messages.
    var redacted: String

    static let schemes = ["postgres://", "postgresql://"]

    /// Whether `text` is a PostgreSQL URL by its scheme (case-insensitive).
    static func isPostgresURL(_ text: String) -> Bool {
        let lower = text.lowercased()
        return schemes.contains { lower.hasPrefix($0) }
    }

    init(parsing url: String) throws(MetaError) {
        let shown = Self.redact(url)
        func bad(_ reason: String) -> MetaError { .invalidLocation(shown, reason: reason) }
        let lower = url.lowercased()
        guard let scheme = Self.schemes.first(where: { lower.hasPrefix($0) }) else {
            throw bad("a PostgreSQL URL starts with postgres:// or postgresql://")
        }
        let rest = Substring(url.dropFirst(scheme.count))
        // The last '@' ends the user part, so a password with an unencoded '@', '/' or '?' parses.
        guard let at = rest.lastIndex(of: "@") else {
            throw bad("no user name: write postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE")
        }
        let userInfo = rest[..<at]
        var afterAt = rest[rest.index(after: at)...]
        if afterAt.contains("#") { throw bad("a fragment ('#…') is not allowed") }
        var query: Substring = ""
        if let q = afterAt.firstIndex(of: "?") {
            query = afterAt[afterAt.index(after: q)...]
            afterAt = afterAt[..<q]
        }
        let userPart: Substring
        var passwordPart: Substring?
        if let colon = userInfo.firstIndex(of: ":") {
            userPart = userInfo[..<colon]
            passwordPart = userInfo[userInfo.index(after: colon)...]
        } else {
            userPart = userInfo
        }
        guard let user = Self.percentDecoded(userPart), !user.isEmpty else {
            throw bad("the user name is empty or badly percent-encoded")
        }
        self.user = user
        if let p = passwordPart {
            guard let decoded = Self.percentDecoded(p) else { throw bad("the password is badly percent-encoded") }
            password = decoded
        }
        guard let slash = afterAt.firstIndex(of: "/") else { throw bad("no database name: add /DATABASE after the host") }
        let hostPort = afterAt[..<slash]
        let path = afterAt[afterAt.index(after: slash)...]
        guard !path.isEmpty, !path.contains("/"), let db = Self.percentDecoded(path), !db.isEmpty else {
            throw bad("the database name must be one non-empty path component")
        }
        database = db
        var hostText: Substring
        var portText: Substring?
        if hostPort.hasPrefix("[") {
            guard let close = hostPort.firstIndex(of: "]") else { throw bad("an IPv6 host lacks its closing ']'") }
            hostText = hostPort[hostPort.index(after: hostPort.startIndex)..<close]
            let tail = hostPort[hostPort.index(after: close)...]
            if !tail.isEmpty {
                guard tail.hasPrefix(":") else { throw bad("unexpected '\(tail)' after the IPv6 host") }
                portText = tail.dropFirst()
            }
        } else if let colon = hostPort.firstIndex(of: ":") {
            hostText = hostPort[..<colon]
            portText = hostPort[hostPort.index(after: colon)...]
        } else {
            hostText = hostPort
        }
        guard !hostText.isEmpty, let decodedHost = Self.percentDecoded(hostText) else { throw bad("no host name") }
        host = decodedHost
        port = 5432
        if let portText {
            guard let p = Int(portText), (1...65535).contains(p) else { throw bad("port '\(portText)' is not a number from 1 to 65535") }
            port = p
        }
        connectTimeout = nil
        for parameter in query.split(separator: "&") where !parameter.isEmpty {
            let pair = parameter.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = String(pair[0])
            let value = pair.count > 1 ? String(pair[1]) : ""
            switch key {
            case "sslmode":
                // TLS to the metadata database is not built yet: say so rather than connect in the
                // clear to a server the operator asked to reach over TLS.
                guard value == "disable" else {
                    throw bad("sslmode=\(value) is not supported: this Granary connects without TLS, so only sslmode=disable is accepted")
                }
            case "connect_timeout":
                guard let seconds = Double(value), seconds > 0, seconds <= 600 else {
                    throw bad("connect_timeout=\(value) is not a number of seconds from 1 to 600")
                }
                connectTimeout = seconds
            case "query_timeout":
                guard let seconds = Double(value), seconds > 0, seconds <= 3_600 else {
                    throw bad("query_timeout=\(value) is not a number of seconds from 1 to 3600")
                }
                queryTimeout = seconds
            default:
                throw bad("unknown parameter '\(key)' (supported: sslmode=disable, connect_timeout, query_timeout)")
            }
        }
        let shownHost = host.contains(":") ? "[\(host)]" : host
        redacted = "\(scheme)\(user)@\(shownHost):\(port)/\(database)" + (query.isEmpty ? "" : "?\(query)")
    }

    /// `url` with the password removed (and the value of any `password` parameter), however
    /// malformed the rest of it is: what error messages show.
    static func redact(_ url: String) -> String {
        var head = ""
        var tail = Substring(url)
        if let sep = tail.firstRange(of: "://") {
            head = String(tail[..<sep.upperBound])
            tail = tail[sep.upperBound...]
            // The last '@' anywhere: a password with an unencoded '?', '/' or '@' is still cut out.
            if let at = tail.lastIndex(of: "@") {
                head += tail[..<at].split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
                tail = tail[at...]
            }
        }
        guard let q = tail.firstIndex(of: "?") else { return head + tail }
        let kept = tail[tail.index(after: q)...].split(separator: "&", omittingEmptySubsequences: false).map { p -> String in
            p.lowercased().hasPrefix("password=") ? "password=" : String(p)
        }
        return head + tail[...q] + kept.joined(separator: "&")
    }

    /// `text` with `%XX` escapes decoded as UTF-8; `nil` for a bad escape or invalid UTF-8.
    static func percentDecoded(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        var it = Array(text.utf8)[...]
        while let b = it.popFirst() {
            guard b == UInt8(ascii: "%") else { bytes.append(b); continue }
            guard it.count >= 2, let hi = hexValue(it.removeFirst()), let lo = hexValue(it.removeFirst()) else { return nil }
            bytes.append(hi << 4 | lo)
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
