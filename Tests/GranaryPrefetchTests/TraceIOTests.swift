import Foundation
import Testing
@testable import GranaryPrefetch

/// A path under the temporary directory, removed when the test ends.
func temporaryPath(_ name: String) -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("granary-\(UUID().uuidString)-\(name)").path
}

func write(_ text: String, to path: String) throws {
    try text.write(toFile: path, atomically: true, encoding: .utf8)
}

@Suite struct TraceIOTests {
    @Test func roundTripKeepsEveryFieldAndEscape() throws {
        let path = temporaryPath("round.jsonl")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let records = [
            TraceRecord(t: 0, job: "rank0", key: "train/cls3/img_0001.jpg", size: 102_400),
            TraceRecord(t: 1.25, job: "job \"quoted\"", key: #"dir\sub/"q".bin"#, size: 0, offset: 4096),
            TraceRecord(t: 2.000001, job: "r", key: "tab\tnl\ncr\r ctl\u{01}\u{1F} é 🚀", size: 7, isWrite: true),
            TraceRecord(t: 1e-7 + 3, job: "r", key: "ckpt/step-000500.pt#12", size: 1 << 20, offset: 12 << 20, isWrite: true),
        ]
        let writer = try TraceWriter(path: path)
        try writer.append(records)
        try writer.close()
        #expect(try TraceReader.readAll(path: path) == records)

        let text = try String(contentsOfFile: path, encoding: .utf8)
        let lines = text.split(separator: "\n")
        // Compact numbers, optional fields only when non-default.
        #expect(lines[0] == #"{"t": 0, "job": "rank0", "key": "train/cls3/img_0001.jpg", "size": 102400}"#)
        #expect(lines[1].contains(#""offset": 4096"#) && !lines[1].contains("write"))
        #expect(lines[2].contains(#"\t"#) && lines[2].contains(#"\u0001"#) && lines[2].contains(#""write": true"#))
    }

    @Test func readerAcceptsIntegerJobsUnknownKeysAndBlankLines() throws {
        let path = temporaryPath("lenient.jsonl")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try write("""
        {"t": 1, "job": 3, "key": "a", "size": 10, "extra": {"nested": [1, 2, null]}}

          {"size": 5, "key": "b\\u00e9\\ud83d\\ude80", "job": "x", "t": 1.5e0, "write": false}
        """, to: path)
        let r = try TraceReader.readAll(path: path)
        #expect(r == [TraceRecord(t: 1, job: "3", key: "a", size: 10),
                      TraceRecord(t: 1.5, job: "x", key: "bé🚀", size: 5)])
    }

    @Test(arguments: [
        (#"{"t": 1, "job": "a", "key": "k" "size": 1}"#, "bad JSON"),
        (#"{"t": 1, "job": "a", "key": "k"}"#, "missing key \"size\""),
        (#"{"t": 1, "job": "a", "key": "k", "size": -5}"#, "negative size -5"),
        (#"{"t": 0.5, "job": "a", "key": "k", "size": 1}"#, "t goes backwards"),
        (#"{"t": "1", "job": "a", "key": "k", "size": 1}"#, "\"t\" must be a number"),
        (#"{"t": 1, "job": "a", "key": "k", "size": 1.5}"#, "\"size\" must be an integer"),
        ("not json", "bad JSON"),
    ])
    func malformedLineNamesFileLineAndReason(line: String, reason: String) throws {
        let path = temporaryPath("bad.jsonl")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try write("{\"t\": 1, \"job\": \"a\", \"key\": \"k\", \"size\": 1}\n\n\(line)\n", to: path)
        do throws(TraceError) {
            _ = try TraceReader.readAll(path: path)
            Issue.record("expected an error for \(line)")
        } catch {
            guard case let .malformedLine(file, number, _) = error else {
                Issue.record("wrong error \(error)")
                return
            }
            #expect(file == path)
            #expect(number == 3)  // blank line 2 counts
            #expect(error.description.contains(reason))
            #expect(error.description.hasPrefix("\(path):3: "))
        }
    }

    @Test func missingFileIsUnreadable() {
        #expect(throws: TraceError.self) { try TraceReader(path: "/nonexistent/trace.jsonl") }
    }

    @Test func writerRefusesUnrepresentableRecords() throws {
        let path = temporaryPath("refuse.jsonl")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let writer = try TraceWriter(path: path)
        #expect(throws: TraceError.invalidRecord(index: 1, reason: .nonFiniteTime)) {
            try writer.append([TraceRecord(t: 0, job: "a", key: "k", size: 1),
                               TraceRecord(t: .nan, job: "a", key: "k", size: 1)])
        }
        try writer.close()
        #expect(try TraceReader.readAll(path: path).isEmpty)  // nothing of the refused batch was written
    }

    @Test func largeTraceStreamsAcrossBufferRefills() throws {
        let path = temporaryPath("large.jsonl")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let records = (0..<30_000).map { TraceRecord(t: Double($0) * 0.001, job: "j\($0 % 3)", key: "d/\($0 % 977)", size: $0) }
        let writer = try TraceWriter(path: path)
        try writer.append(records)
        try writer.close()
        let reader = try TraceReader(path: path)
        var n = 0
        while let r = try reader.next() {
            #expect(r == records[n])
            n += 1
        }
        #expect(n == records.count)
    }
}
