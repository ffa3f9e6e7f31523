/// Interns item keys and job names as small integers and parses each key's structure, so policies
/// work on array indices rather than strings.
///
/// A key's structure: `"stream#N"` is block N of a stream (a large file read piece by piece); any
/// other key is a member of the group named by everything before its last `/` (a directory, a
/// shard). Policies use the groups to learn co-access and the ordinals to follow sequential streams.
///
/// Not thread-safe: its owner serialises every call (the simulator runs on one task; the client
/// cache keeps it inside its lock).
public final class KeyTable {
    public struct Item: Sendable, Hashable {
        public var key: String
        /// Bytes; the latest size seen (an access or a registration).
        public var size: Int
        /// The group (directory, shard or stream) the key belongs to.
        public var group: Int
        /// The block number within its stream, for `stream#N` keys.
        public var ordinal: Int?
    }

    public private(set) var items: [Item] = []
    private var ids: [String: Int] = [:]
    private var groupIDs: [String: Int] = [:]
    public private(set) var groupNames: [String] = []
    /// Members of each group, in the order they were first seen.
    public private(set) var members: [[Int]] = []
    /// For stream groups: ordinal → item.
    private var blocks: [Int: [Int: Int]] = [:]
    private var jobIDs: [String: Int] = [:]
    public private(set) var jobNames: [String] = []

    public init() {}

    public var count: Int { items.count }

    /// The id of `key`, interning it (with `size`) the first time; a later call updates the size.
    @discardableResult
    public func intern(_ key: String, size: Int) -> Int {
        if let id = ids[key] {
            if size > 0 { items[id].size = size }
            return id
        }
        let (groupName, ordinal) = Self.structure(of: key)
        let group: Int
        if let g = groupIDs[groupName] { group = g } else {
            group = groupNames.count
            groupIDs[groupName] = group
            groupNames.append(groupName)
            members.append([])
        }
        let id = items.count
        items.append(Item(key: key, size: size, group: group, ordinal: ordinal))
        ids[key] = id
        members[group].append(id)
        if let ordinal { blocks[group, default: [:]][ordinal] = id }
        return id
    }

    /// The id of `key` if it was interned.
    public func id(_ key: String) -> Int? { ids[key] }

    public subscript(_ id: Int) -> Item { items[id] }

    /// Block `ordinal` of stream `group`, if it was interned.
    public func block(group: Int, ordinal: Int) -> Int? { blocks[group]?[ordinal] }

    /// The id of job `name`, interning it the first time.
    public func job(_ name: String) -> Int {
        if let j = jobIDs[name] { return j }
        jobIDs[name] = jobNames.count
        jobNames.append(name)
        return jobNames.count - 1
    }

    /// `("stream", N)` for `"stream#N"`; `("dir", nil)` for `"dir/name"`; `("", nil)` otherwise.
    public static func structure(of key: String) -> (group: String, ordinal: Int?) {
        if let hash = key.lastIndex(of: "#"), let n = Int(key[key.index(after: hash)...]), n >= 0 {
            return (String(key[..<hash]), n)
        }
        if let slash = key.lastIndex(of: "/") { return (String(key[..<slash]), nil) }
        return ("", nil)
    }
}
