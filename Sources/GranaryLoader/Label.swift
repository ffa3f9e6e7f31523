/// A sample's label: its class index and, where known, the class name.
public struct Label: Sendable, Equatable, Hashable {
    public var index: Int
    public var name: String

    public init(index: Int, name: String) {
        self.index = index
        self.name = name
    }
}
