import Foundation
import Testing
@testable import GranaryHealth

@Suite("Backblaze CSV")
struct BackblazeCSVTests {
    static let header = "date,serial_number,model,capacity_bytes,failure,smart_5_normalized,smart_5_raw,smart_197_raw"

    static func csv(_ rows: String...) -> String {
        ([header] + rows).joined(separator: "\n") + "\n"
    }

    static func parseError(_ text: String) -> HealthError? {
        do {
            _ = try BackblazeCSV.parse(text, file: "t.csv")
            return nil
        } catch {
            return error
        }
    }

    @Test func parsesTypicalRowsWithEmptyCellsAndExtraColumns() throws {
        let text = """
        date,serial_number,model,capacity_bytes,failure,datacenter,smart_5_normalized,smart_5_raw,smart_9_raw,smart_194_raw
        2024-03-01,ZA1,ST12000NM0008,12000138625024,0,phx1,100,0,15000,31
        2024-03-02,ZA1,ST12000NM0008,12000138625024,1,phx1,,,15024,
        """
        let records = try BackblazeCSV.parse(text, file: "t.csv")
        #expect(records.count == 2)
        #expect(records[0].date == "2024-03-01")
        #expect(records[0].day == 19783)
        #expect(records[0].serial == "ZA1")
        #expect(records[0].capacityBytes == 12_000_138_625_024)
        #expect(records[0].attributes == [5: 0, 9: 15000, 194: 31])
        #expect(records[0].normalized == [5: 100])
        #expect(records[0].failure == false)
        #expect(records[1].failure == true)
        #expect(records[1].attributes == [9: 15024])
        #expect(records[1].normalized.isEmpty)
        #expect(records[0].latencyRatio == nil)
    }

    @Test func renderThenParseIsIdentity() throws {
        let records = [
            SmartRecord(day: 19_800, serial: "A,1", model: "Model \"X\"", capacityBytes: 4_000_000_000_000,
                        attributes: [5: 12, 197: 0, 194: 36.5], normalized: [5: 99],
                        latencyRatio: 1.125, ioErrors: 3),
            SmartRecord(day: 19_801, serial: "A,1", model: "Model \"X\"", failure: true,
                        attributes: [5: 1e16, 198: 0.0001], ioErrors: nil),
            SmartRecord(day: 19_801, serial: "B\n2", model: "", attributes: [:], latencyRatio: 0.97),
        ]
        let text = BackblazeCSV.render(records)
        #expect(text.hasPrefix("date,serial_number,model,capacity_bytes,failure,smart_5_normalized,smart_5_raw,"))
        #expect(try BackblazeCSV.parse(text, file: "round.csv") == records)
    }

    @Test func syntheticDataRoundTripsThroughAFile() throws {
        let records = SyntheticSmart(seed: 3, drives: 6, days: 12).records()
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("granary-\(UUID().uuidString).csv").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try BackblazeCSV.write(records, path: path)
        #expect(try BackblazeCSV.load(path: path) == records)
    }

    @Test func missingFileIsAnIOError() {
        do {
            _ = try BackblazeCSV.load(path: "/nonexistent/granary.csv")
            Issue.record("loading a missing file succeeded")
        } catch {
            guard case let .io(path, reason) = error else {
                Issue.record("expected .io, got \(error)")
                return
            }
            #expect(path == "/nonexistent/granary.csv")
            #expect(reason.hasPrefix("cannot read the file"))
        }
    }

    @Test func quotedFieldsMayHoldCommasQuotesAndNewlines() throws {
        let text = Self.csv(
            "2024-03-01,\"ZA,1\",\"He said \"\"hi\"\"\",,0,,,",
            "2024-03-01,\"Z\nB\",m,,0,,,"
        )
        let records = try BackblazeCSV.parse(text, file: "t.csv")
        #expect(records.map(\.serial) == ["ZA,1", "Z\nB"])
        #expect(records[0].model == "He said \"hi\"")
    }

    @Test func crlfAndBlankLinesAreAccepted() throws {
        let text = Self.header + "\r\n\r\n2024-03-01,A,m,,0,100,5,1\r\n"
        let records = try BackblazeCSV.parse(text, file: "t.csv")
        #expect(records.count == 1)
        #expect(records[0].attributes == [5: 5, 197: 1])
    }

    @Test func badDateNamesLineAndColumn() {
        let error = Self.parseError(Self.csv("2024-03-01,A,m,,0,100,0,0", "2024-02-30,A,m,,0,100,0,0"))
        #expect(error == .csv(file: "t.csv", line: 3, column: "date", reason: "'2024-02-30' is not a valid YYYY-MM-DD date"))
        #expect(error?.description == "t.csv, line 3, column date: '2024-02-30' is not a valid YYYY-MM-DD date.")
    }

    @Test func nonNumericSmartCellNamesLineAndColumn() {
        let error = Self.parseError(Self.csv("2024-03-01,A,m,,0,100,abc,0"))
        #expect(error == .csv(file: "t.csv", line: 2, column: "smart_5_raw", reason: "'abc' is not a number"))
    }

    @Test func failureMustBeZeroOrOne() {
        let error = Self.parseError(Self.csv("2024-03-01,A,m,,2,100,0,0"))
        #expect(error == .csv(file: "t.csv", line: 2, column: "failure", reason: "failure must be 0 or 1, found '2'"))
    }

    @Test func shortRowNamesTheFirstMissingColumn() {
        let error = Self.parseError(Self.csv("2024-03-01,A,m,,0,100,0,0", "2024-03-02,A,m,,0,100"))
        #expect(error == .csv(file: "t.csv", line: 3, column: "smart_5_raw",
                              reason: "the row has 6 fields but the header has 8"))
    }

    @Test func longRowIsReportedWithoutAColumn() {
        let error = Self.parseError(Self.csv("2024-03-01,A,m,,0,100,0,0,9"))
        #expect(error == .csv(file: "t.csv", line: 2, column: nil, reason: "the row has 9 fields but the header has 8"))
        #expect(error?.description == "t.csv, line 2: the row has 9 fields but the header has 8.")
    }

    @Test func missingRequiredColumnIsNamed() {
        let error = Self.parseError("date,serial_number,model,smart_5_raw\n2024-03-01,A,m,0\n")
        #expect(error == .missingColumn(file: "t.csv", column: "failure"))
        #expect(error?.description == "t.csv, line 1: the header has no 'failure' column, which is required.")
    }

    @Test func unterminatedQuoteNamesLineAndColumn() {
        let error = Self.parseError(Self.csv("2024-03-01,A,m,,0,100,0,0", "2024-03-01,B,\"m,,0,100,0,0"))
        #expect(error == .csv(file: "t.csv", line: 3, column: "model", reason: "a quoted field is never closed"))
    }

    @Test func lineNumbersCountBlankAndQuotedNewlines() {
        let error = Self.parseError(Self.csv("2024-03-01,\"A\nB\",m,,0,100,0,0", "", "2024-03-01,C,m,,0,100,x,0"))
        #expect(error == .csv(file: "t.csv", line: 5, column: "smart_5_raw", reason: "'x' is not a number"))
    }

    @Test func emptyInputNeedsAHeader() {
        #expect(Self.parseError("") == .csv(file: "t.csv", line: 1, column: nil,
                                            reason: "the file is empty; a header row is required"))
    }

    @Test func numbersParseExactly() throws {
        let text = Self.csv("2024-03-01,A,m,,0,0.1,123456789012345,1e3", "2024-03-01,B,m,,0,-2.5,0.30000000000000004,12345678901234567")
        let records = try BackblazeCSV.parse(text, file: "t.csv")
        #expect(records[0].normalized[5] == 0.1)
        #expect(records[0].attributes == [5: 123_456_789_012_345, 197: 1000])
        #expect(records[1].normalized[5] == -2.5)
        #expect(records[1].attributes == [5: 0.30000000000000004, 197: 12_345_678_901_234_568])
    }
}
