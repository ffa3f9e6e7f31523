/// Where a sample's label comes from.
public enum LabelRule: Sendable, Equatable, Codable {
    /// No labels.
    case none
    /// A component of the sample's path below the root (for a tar sample: of its key): `0` is the
    /// first component, negative numbers count from the end (`-2` is the parent directory of an
    /// image-folder file, torchvision's `ImageFolder` convention). Class names are sorted and
    /// numbered from 0.
    case pathComponent(Int)
    /// The text of the sample's member with this extension (WebDataset's `cls`): an integer
    /// becomes the label's index, other text its name.
    case member(String)

    var canonical: String {
        switch self {
        case .none: return "none"
        case let .pathComponent(i): return "component(\(i))"
        case let .member(ext): return "member(\(ext))"
        }
    }

    /// The component of `path` that `.pathComponent(i)` names; `nil` when the path is too short
    /// or the rule is not a path rule.
    func component(of path: String) -> String? {
        guard case let .pathComponent(i) = self else { return nil }
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        let at = i >= 0 ? i : parts.count + i
        return parts.indices.contains(at) ? String(parts[at]) : nil
    }
}
