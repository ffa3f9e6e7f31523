import Foundation
import Testing

/// The Grafana dashboard in ops/grafana queries only metrics the code records: a renamed metric
/// would otherwise leave a panel silently empty.
@Suite struct DashboardTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Every Swift source under Sources/, concatenated.
    static func sources() throws -> String {
        var text = ""
        let base = root.appendingPathComponent("Sources")
        let files = FileManager.default.enumerator(atPath: base.path)?.compactMap { $0 as? String } ?? []
        for f in files where f.hasSuffix(".swift") {
            text += try String(contentsOf: base.appendingPathComponent(f), encoding: .utf8)
        }
        return text
    }

    @Test func everyMetricTheDashboardQueriesIsRecordedSomewhere() throws {
        let data = try Data(contentsOf: Self.root.appendingPathComponent("ops/grafana/granary-dashboard.json"))
        let dashboard = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let panels = try #require(dashboard["panels"] as? [[String: Any]])
        #expect(panels.count >= 10)
        let exprs = panels.flatMap { ($0["targets"] as? [[String: Any]] ?? []).compactMap { $0["expr"] as? String } }
        let pattern = try Regex("granary_[a-z_]+")
        var names = Set<String>()
        for e in exprs {
            for m in e.matches(of: pattern) {
                var n = String(e[m.range])
                for suffix in ["_bucket", "_count", "_sum"] where n.hasSuffix(suffix) { n = String(n.dropLast(suffix.count)) }
                names.insert(n)
            }
        }
        #expect(names.count >= 15, "\(names.sorted())")
        let code = try Self.sources()
        for n in names.sorted() {
            #expect(code.contains("\"\(n)\""), "the dashboard queries \(n), which no source records")
        }
    }
}
