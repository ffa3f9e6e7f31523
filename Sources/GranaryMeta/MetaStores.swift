/// Opens the metadata engine a location names: what a manager's `--meta` setting holds.
///
/// Guarantees: the same location always opens the same kind of store, migrated to this build's
/// schema (or refused with `.newerSchema`); a location that is neither a path nor a supported URL
/// is refused with `.invalidLocation`, never guessed at; errors never show a password.
public enum MetaStores {
    /// Opens the store at `location`:
    /// - `postgres://user[:password]@host[:port]/database[?sslmode=disable][&connect_timeout=N]`
    ///   or `postgresql://…`: a `PostgresMetaStore` (percent-encode `@`, `:`, `/` in the password);
    /// - `sqlite:PATH` or `sqlite://PATH` (e.g. `sqlite:///var/lib/granary/meta.db`): an
    ///   `SQLiteMetaStore` on that file;
    /// - anything else without `://`: a file path for an `SQLiteMetaStore`.
    ///
    /// Throws `.invalidLocation` for an empty location or another URL scheme, and whatever the
    /// chosen store's initializer throws.
    public static func open(_ location: String) throws(MetaError) -> any MetaStore {
        if PostgresLocation.isPostgresURL(location) {
            return try PostgresMetaStore(url: location)
        }
        let lower = location.lowercased()
        var path = location
        if lower.hasPrefix("sqlite://") {
            path = String(location.dropFirst("sqlite://".count))
        } else if lower.hasPrefix("sqlite:") {
            path = String(location.dropFirst("sqlite:".count))
        } else if location.contains("://") {
            throw .invalidLocation(PostgresLocation.redact(location),
                                   reason: "unknown scheme: use a file path, sqlite:PATH, or postgres://user@host/database")
        }
        guard !path.isEmpty else { throw .invalidLocation(location, reason: "no database file given") }
        return try SQLiteMetaStore(path: path)
    }

    /// `location` as logs and status may show it: a URL's password removed.
    public static func redacted(_ location: String) -> String {
        location.contains("://") ? PostgresLocation.redact(location) : location
    }
}
