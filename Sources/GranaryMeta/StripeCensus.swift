import GranaryCore

/// How many stripes the cluster stores in one k+m shape, and how many data bytes they hold: the
/// input of the durability report, which needs the real mix of layouts, not the configured default.
public struct StripeCensus: Codable, Sendable, Equatable {
    public var k: Int
    public var m: Int
    public var stripes: Int
    public var dataBytes: Int64
    /// Of `stripes`, how many are shrunk (stored narrower than written).
    public var shrunk: Int

    public init(k: Int, m: Int, stripes: Int, dataBytes: Int64, shrunk: Int) {
        self.k = k
        self.m = m
        self.stripes = stripes
        self.dataBytes = dataBytes
        self.shrunk = shrunk
    }
}
