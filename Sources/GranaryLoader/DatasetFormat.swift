/// How samples are laid out under a dataset's root.
public enum DatasetFormat: Sendable, Equatable, Codable {
    /// One file per sample (an image-folder tree). Only files whose name ends with one of
    /// `extensions` (without the dot, compared case-insensitively) count; all files when empty.
    /// Names starting with "." are never samples.
    case files(extensions: [String])
    /// WebDataset tar shards: every `*.tar` file under the root, files sharing a key forming one
    /// sample.
    case tarShards

    /// A stable text form, stored in the index so an index built with other options is rebuilt.
    var canonical: String {
        switch self {
        case let .files(ext): return "files[" + ext.map { $0.lowercased() }.sorted().joined(separator: ",") + "]"
        case .tarShards: return "tar"
        }
    }
}
