// The config parser's fuzz target (issue 10): libFuzzer calls `LLVMFuzzerTestOneInput` with the
// bytes of a config file, parsed as a daemon config and as a client config. `ops/fuzz/run` builds
// it with `-sanitize=fuzzer,address -D GRANARY_FUZZING`, and libFuzzer's driver runs it; a plain
// `swift build` gets the `main` at the bottom instead, which replays input files (`swift run
// granary-fuzz-config FILE...`), so the package still builds and links without the sanitizer, and
// GranaryCoreTests runs the same checks on ops/fuzz/regressions/config.
//
// A `ConfigError` is fine. A crash, a trap, an over-read (AddressSanitizer, C++ in toml++ included),
// a hang or runaway memory is a finding, in our code or in TOMLKit and toml++ under it; so is a
// refusal that does not say where, which the entry point turns into a trap.
#if canImport(Glibc)
import Glibc
#endif
import GranaryCore

/// One input parsed as `granaryd --config` and the `granary` CLI would: the daemon config from the
/// bytes read as UTF-8 (invalid sequences become U+FFFD, as `FileIO.readString` makes them), the
/// client config from a file holding the bytes (it is only ever read from a file).
struct ConfigFuzz {
    var daemon: Result<DaemonConfig, ConfigError>
    /// nil when the client config file could not be written.
    var client: Result<ClientConfig, ConfigError>?
    /// Broken promises, in words; empty when all held.
    private(set) var problems: [String] = []

    static func check(_ input: [UInt8], clientPath: String) -> ConfigFuzz {
        let text = String(decoding: input, as: UTF8.self)
        let daemon: Result<DaemonConfig, ConfigError>
        do throws(ConfigError) { daemon = .success(try DaemonConfig.parse(text: text, file: "fuzz.toml")) } catch { daemon = .failure(error) }
        var client: Result<ClientConfig, ConfigError>?
        if write(input, to: clientPath) {
            do throws(ConfigError) { client = .success(try ClientConfig.load(path: clientPath)) } catch { client = .failure(error) }
        }
        var run = ConfigFuzz(daemon: daemon, client: client)
        if case let .failure(e) = daemon { run.checkRefusal(e) }
        if case let .failure(e)? = client { run.checkRefusal(e) }
        return run
    }

    /// A refusal must say where: a key, or a line for a syntax error.
    private mutating func checkRefusal(_ error: ConfigError) {
        switch error {
        case let .unknownKey(_, key), let .missingKey(_, key), let .badValue(_, key, _, _), let .missingDirectory(_, key, _):
            if key.isEmpty { problems.append("\(error): names no key") }
        case .syntax, .unreadable, .unsafePermissions: break
        }
    }

    /// Writes the input without `FileIO.writeAtomically`'s fsyncs, which would dominate the run.
    /// (A plain loop: a typed-throws closure here crashed the 6.3.1 optimizer with the sanitizers on.)
    static func write(_ bytes: [UInt8], to path: String) -> Bool {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { raw -> Int in
                guard let base = raw.baseAddress else { return -1 }
                return Glibc.write(fd, base + done, raw.count - done)
            }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { return false }
            done += n
        }
        return true
    }

    /// Where this process writes client configs: one file per process (parallel fuzzing jobs do not
    /// share it), removed when the process exits.
    static let processClientPath: String = {
        let dir = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
        atexit { unlink(ConfigFuzz.processClientPath) }
        return "\(dir)/granary-fuzz-config-\(getpid()).toml"
    }()
}

#if GRANARY_FUZZING
@_cdecl("LLVMFuzzerTestOneInput")
public func granaryFuzzConfigOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    if let problem = ConfigFuzz.check(input, clientPath: ConfigFuzz.processClientPath).problems.first {
        // A broken promise: trap on purpose so libFuzzer reports the input and keeps it (this is the
        // harness, not a path the product takes with a config).
        fatalError("fuzz finding: \(problem)")
    }
    return 0
}

// SwiftPM names an executable module's entry point `<module>_main` and links it with `--defsym
// main=<module>_main` (so that tests can link the module), which displaces the `main` libFuzzer
// brings. This is that entry point: it hands the command line to libFuzzer's driver.
@_extern(c, "LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ testOneInput: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

@_cdecl("granary_fuzz_config_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv, granaryFuzzConfigOneInput)
}
#else
/// Without libFuzzer: runs each file named on the command line through the same checks and prints
/// what each parsed to; exits 1 if a promise broke.
@main enum Replay {
    static func main() {
        var failed = false
        for path in CommandLine.arguments.dropFirst() {
            do {
                let run = ConfigFuzz.check(try FileIO.readBytes(path), clientPath: ConfigFuzz.processClientPath)
                print(run.problems.isEmpty ? "ok \(path): daemon: \(describe(run.daemon)); client: \(describe(run.client))"
                                           : "FAIL \(path): \(run.problems.joined(separator: "; "))")
                failed = failed || !run.problems.isEmpty
            } catch {
                print("cannot read \(path): \(error)")
                failed = true
            }
        }
        exit(failed ? 1 : 0)
    }

    static func describe<T>(_ result: Result<T, ConfigError>?) -> String {
        switch result {
        case .success?: return "parses"
        case let .failure(e)?: return e.description
        case nil: return "could not write the input to a file"
        }
    }
}
#endif
