import ArgumentParser
import Foundation
import GranaryCore
import GranaryHealth
import GranaryManager

/// `granary health`: the drives' health and failure predictions; `train` and `evaluate` for the
/// failure predictor on Backblaze-format CSV.
struct HealthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "health", abstract: "Drive health: fail-slow scores, failure predictions, recent evictions; train and evaluate the predictor.",
        subcommands: [Status.self, Train.self, Evaluate.self], defaultSubcommand: Status.self)

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every drive's health, score and failure prediction, and the recent health events.")
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let client = try options.managerClient()
            defer { client.close() }
            let report: HealthReport
            do { report = try await client.health() } catch { throw CLIError("\(error)") }
            if options.json {
                print(Output.json(report))
                return
            }
            print(Output.table(["DRIVE", "HEALTH", "SCORE", "FAILURE SCORE", "PREDICTION", "WHY"], report.drives.map { d in
                [d.drive, d.health.rawValue, d.score.map { String(format: "%.2f", $0) } ?? "-",
                 d.failureProbability.map { String(format: "%.3f", $0) } ?? "-",
                 d.predictedFailing.map { $0 ? "fails within \(d.horizonDays ?? 14) days" : "healthy" } ?? "-",
                 d.healthNote ?? d.predictionNote ?? d.smartNote ?? "-"]
            }))
            print("model: \(report.model)")
            print("policy: auto evict \(report.autoEvict ? "after \(report.evictAfterS) s suspect" : "off"), \(report.evictionsLastHour) of \(report.maxEvictionsPerHour) automatic evictions used this hour")
            for e in report.events.suffix(20) {
                let when = Date(timeIntervalSince1970: e.time).formatted(.iso8601)
                print("\(when) \(e.drive) \(e.from) -> \(e.to) by \(e.by): \(e.evidence)")
            }
        }
    }

    struct Train: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Train a failure predictor on drive-days in Backblaze's CSV format; reports precision, recall and lead time on held-out drives.")
        @Option(help: "Backblaze-format CSV (date, serial_number, model, failure, smart_N_raw ...).") var csv: String
        @Option(help: "Predict failures this many days ahead.") var horizonDays: Int = 14
        @Option(help: "Write the trained model (JSON) here.") var output: String?
        @Flag var json = false

        func run() async throws {
            let records: [SmartRecord]
            do { records = try BackblazeCSV.load(path: csv) } catch { throw CLIError("\(error)") }
            FileHandle.standardError.write(Data("read \(records.count) drive-days from \(csv)\n".utf8))
            let result: TrainingResult
            do {
                result = try FailurePredictor.train(records, horizonDays: horizonDays) { line in
                    FileHandle.standardError.write(Data("  \(line)\n".utf8))
                }
            } catch { throw CLIError("\(error)") }
            if let output {
                do { try FileIO.writeAtomically(output, result.model.json()) } catch { throw CLIError("\(output): \(error)") }
            }
            if json {
                print(Output.jsonLine(result.heldOut))
                return
            }
            print("trained on \(result.trainingDrives) drives; held out \(result.heldOutDrives)")
            print("held-out drives: \(result.heldOut.summary)")
            if let output { print("model written to \(output)") }
        }
    }

    struct Evaluate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Evaluate a failure predictor (the shipped one unless --model) on drive-days in Backblaze's CSV format.")
        @Option(help: "Backblaze-format CSV.") var csv: String
        @Option(help: "A model written by `granary health train --output`.") var model: String?
        @Flag var json = false

        func run() async throws {
            let predictor: FailurePredictor
            if let model {
                do {
                    predictor = try FailurePredictor.load(json: try FileIO.readString(model))
                } catch { throw CLIError("\(model): \(error)") }
            } else {
                predictor = FailurePredictor.standard
            }
            let records: [SmartRecord]
            do { records = try BackblazeCSV.load(path: csv) } catch { throw CLIError("\(error)") }
            let e = predictor.evaluate(records)
            if json {
                print(Output.jsonLine(e))
                return
            }
            print("model: \(predictor.trainedOn)")
            print(e.summary)
        }
    }
}
