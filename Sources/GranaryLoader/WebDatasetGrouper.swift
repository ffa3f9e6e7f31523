/// Groups a shard's members into WebDataset samples as `TarScanner` reports them.
///
/// The convention: a member's key is its path up to the first dot of its base name and its
/// extension is the rest (`a/b/img001.seg.png` → `a/b/img001`, `seg.png`); consecutive regular
/// members with the same key form one sample. Non-regular members are ignored; regular members
/// whose base name has no dot or starts with one are skipped and counted in `skippedMembers`.
/// A key that reappears after another key starts a new sample, as WebDataset itself does.
///
/// Guarantees: every sample returned has at least one part and no extension twice (a repeat
/// throws `.duplicateMember` and leaves the grouper as it was); memory is one sample's parts.
public struct WebDatasetGrouper: Sendable {
    public let shard: String
    /// Regular members that could not belong to a sample (no extension, or a hidden base name).
    public private(set) var skippedMembers: Int = 0

    private var current: TarSample?

    public init(shard: String) {
        self.shard = shard
    }

    /// Adds the next member in archive order; returns the previous sample once `m` starts a new key.
    public mutating func add(_ m: TarMember) throws(TarError) -> TarSample? {
        guard m.kind == .regular else { return nil }
        guard let (key, ext) = Self.keyAndExtension(of: m.name) else {
            skippedMembers += 1
            return nil
        }
        let part = TarSample.Part(ext: ext, dataOffset: m.dataOffset, size: m.size)
        if var sample = current, sample.key == key {
            if sample.members.contains(where: { $0.ext == ext }) {
                throw .duplicateMember(shard: shard, offset: m.headerOffset, key: key, ext: ext)
            }
            sample.members.append(part)
            current = sample
            return nil
        }
        let finished = current
        current = TarSample(key: key, members: [part])
        return finished
    }

    /// Returns the last sample, if any; the grouper is then empty and can start another shard's
    /// members under the same name.
    public mutating func finish() -> TarSample? {
        defer { current = nil }
        return current
    }

    /// Splits a member path by the WebDataset convention, or nil when its base name has no dot or
    /// begins with one. The extension may be empty ("img." → "img", ""), as in WebDataset.
    public static func keyAndExtension(of name: String) -> (key: String, ext: String)? {
        let utf8 = name.utf8
        let baseStart = utf8.lastIndex(of: UInt8(ascii: "/")).map { utf8.index(after: $0) } ?? utf8.startIndex
        guard let dot = utf8[baseStart...].firstIndex(of: UInt8(ascii: ".")), dot != baseStart else {
            return nil
        }
        // "/" and "." are ASCII, so these UTF-8 positions are character boundaries.
        return (String(name[..<dot]), String(name[name.index(after: dot)...]))
    }
}
