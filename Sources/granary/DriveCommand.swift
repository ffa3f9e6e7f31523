import ArgumentParser
import Foundation
import GranaryCore
import GranaryManager

struct DriveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drive", abstract: "Drives of the cluster: state, health, eviction, rejoin, fault injection.",
        subcommands: [List.self, Evict.self, Rejoin.self, Inject.self])

    static func drive(_ text: String) throws -> DriveID {
        guard let id = DriveID(parsing: text) else { throw CLIError("'\(text)' is not a drive id: expected NODE/DRIVE, for example node-1/d0") }
        return id
    }

    static func ms(_ v: Double?) -> String { v.map { String(format: "%.2f", $0) } ?? "-" }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every drive: state, health, detector score, latency, load, space and SMART.")
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let client = try options.managerClient()
            defer { client.close() }
            let report: HealthReport
            do { report = try await client.health() } catch { throw CLIError("\(error)") }
            if options.json {
                print(Output.json(report.drives))
                return
            }
            print(Output.table(["DRIVE", "STATE", "HEALTH", "SCORE", "MEAN MS", "P99 MS", "OPS/S", "QD", "ERR", "USED", "CHUNKS", "SMART"], report.drives.map { d in
                let t = d.latest
                let smart = d.smart.map { s in
                    "\(s.device)" + (s.temperatureC.map { " \(Int($0))C" } ?? "") + " 5=\(Int(s.raw[5] ?? 0)) 197=\(Int(s.raw[197] ?? 0))"
                } ?? (d.smartNote ?? "-")
                return [d.drive, d.state, d.health.rawValue, d.score.map { String(format: "%.2f", $0) } ?? "-",
                        DriveCommand.ms(t?.meanMs), DriveCommand.ms(t.map { max($0.readP99Ms, $0.writeP99Ms) }),
                        t.map { String(format: "%.0f", Double($0.ops) / max($0.seconds, 1e-3)) } ?? "-",
                        t.map { String(format: "%.1f", $0.queueDepth) } ?? "-", t.map { String($0.errors) } ?? "-",
                        ByteSize(d.usedBytes).description, String(d.chunkCount), smart]
            }))
            for d in report.drives where d.health != .healthy {
                print("\(d.drive) is \(d.health.rawValue): \(d.healthNote ?? "-")")
            }
            for d in report.drives where d.problem != nil { print("\(d.drive): \(d.problem ?? "")") }
        }
    }

    struct Evict: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Evict a drive: no new fragments go to it and its stripes are rebuilt elsewhere (refused, with the stripe named, when a stripe would drop below k readable fragments).")
        @Argument(help: "The drive, NODE/DRIVE.") var drive: String
        @Option(help: "Why, for the log.") var reason: String?
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let id = try DriveCommand.drive(drive)
            let client = try options.managerClient()
            defer { client.close() }
            do { _ = try await client.evict(id, reason: reason) } catch { throw CLIError("\(error)") }
            print("\(id) evicted: its stripes are rebuilt elsewhere (granary rebuild status shows progress)")
        }
    }

    struct Rejoin: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Return an evicted or suspect drive to service: it takes fragments again and shrunk stripes expand back.")
        @Argument(help: "The drive, NODE/DRIVE.") var drive: String
        @Option(help: "Why, for the log.") var reason: String?
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let id = try DriveCommand.drive(drive)
            let client = try options.managerClient()
            defer { client.close() }
            do { _ = try await client.rejoin(id, reason: reason) } catch { throw CLIError("\(error)") }
            print("\(id) rejoined")
        }
    }

    struct Inject: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Tests and drills only: slow down or fail a drive (the cluster must set fault_injection = true in [cluster]).")
        @Argument(help: "The drive, NODE/DRIVE.") var drive: String
        @Option(help: "Added latency per operation, ms.") var latency: Double = 0
        @Option(help: "Up to this much more, uniformly, ms.") var jitter: Double = 0
        @Option(name: .customLong("error-rate"), help: "Probability that an operation fails with an I/O error (0...1).") var errorRate: Double = 0
        @Flag(help: "Fail the drive outright, as a dead drive.") var fail = false
        @Flag(help: "Remove the drive's fault.") var clear = false
        @OptionGroup var options: ClientOptions

        func validate() throws {
            if clear && (latency != 0 || jitter != 0 || errorRate != 0 || fail) {
                throw ValidationError("--clear takes no other fault option")
            }
            if !clear && latency == 0 && jitter == 0 && errorRate == 0 && !fail {
                throw ValidationError("name a fault (--latency, --jitter, --error-rate, --fail) or --clear")
            }
            if let problem = FaultSpec(latencyMs: latency, jitterMs: jitter, errorRate: errorRate, fail: fail).problem {
                throw ValidationError(problem)
            }
        }

        func run() async throws {
            let id = try DriveCommand.drive(drive)
            let fault = clear ? FaultSpec() : FaultSpec(latencyMs: latency, jitterMs: jitter, errorRate: errorRate, fail: fail)
            let client = try options.managerClient()
            defer { client.close() }
            do { _ = try await client.inject(id, fault) } catch { throw CLIError("\(error)") }
            print("\(id): fault \(fault.summary)")
        }
    }
}
