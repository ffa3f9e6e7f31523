// Streams one epoch of a Granary dataset through GranaryLoader and prints samples/s — the
// complete example of docs/LOADER.md. Trains nothing.
//
//   granary-loader-example [ROOT] [--tar] [--batch-size N] [--reads N] [--epochs N] [--config FILE]
//
// ROOT defaults to /datasets/sample/train, the image-folder tree `granary up` imports (labels from
// the class directories); --tar reads /datasets/sample/shards-style WebDataset shards instead.
#if canImport(Glibc)
import Glibc
#endif
import GranaryBuffers
import GranaryClient
import GranaryCore
import GranaryLoader
import GranaryTransport
import Logging

/// The example as one program: options, a client, the dataset, the loader, epochs.
@main
struct LoaderExample {
    static func fail(_ message: String) -> Never {
        let line = Array("granary-loader-example: \(message)\n".utf8)
        _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
        exit(1)
    }

    static func main() async {
        var args = Array(CommandLine.arguments.dropFirst())
        func option(_ name: String) -> String? {
            guard let i = args.firstIndex(of: name) else { return nil }
            guard i + 1 < args.count else { fail("\(name) needs a value") }
            defer { args.removeSubrange(i...(i + 1)) }
            return args[i + 1]
        }
        let tar = args.contains("--tar")
        args.removeAll { $0 == "--tar" }
        let configPath = option("--config") ?? ClientConfig.defaultPath
        let batchSize = Int(option("--batch-size") ?? "32") ?? 32
        let reads = Int(option("--reads") ?? "32") ?? 32
        let epochs = Int(option("--epochs") ?? "1") ?? 1
        let root = args.first ?? (tar ? "/datasets/sample/shards" : "/datasets/sample/train")

        // 1. A client for the cluster: the config `granary up` writes names the managers and the secret.
        var logger = Logger(label: "loader-example")
        logger.logLevel = .warning
        let config: ClientConfig
        do { config = try ClientConfig.load(path: configPath) } catch { fail("\(error) (start a cluster with `granary up`)") }
        let secret: ClusterSecret
        do { secret = try ClusterSecret.load(path: config.secretFile) } catch { fail("\(error)") }
        let transport: any Transport
        do { transport = try Transports.client(secret: secret, settings: config.transport, logger: logger) } catch { fail("\(error)") }
        defer { transport.closeAll() }
        let client = FileClient(managers: config.managers, transport: transport, logger: logger)

        do {
            // 2. The dataset: built and stored the first time, reused from ROOT/.granary afterwards.
            let dataset = try await Dataset.open(root, format: tar ? .tarShards : .files(extensions: []),
                                                 label: tar ? .member("cls") : .pathComponent(-2), client: client) { print("  \($0)") }
            print("\(root): \(dataset.count) samples, \(dataset.classes.count) classes, index \(dataset.indexReused ? "reused" : "built")")

            // 3. The pool the samples land in, and the loader.
            let pool = try IOBufferPool(.init(arenaBytes: 16 << 20, limitBytes: 512 << 20), registrars: client.arenaRegistrars, logger: logger)
            let loader = try Loader(dataset: dataset, client: client, pool: pool,
                                    configuration: LoaderConfiguration(batchSize: batchSize, shuffle: true, seed: 42,
                                                                       concurrentReads: reads, prefetchBatches: 2))

            // 4. Epochs of batches; each sample's bytes are a view into a pooled buffer.
            for epoch in loader.state.epoch..<epochs {
                let start = FileClient.seconds()
                var samples = 0, bytes = 0
                var first: Sample?
                for try await batch in loader.epoch(epoch) {
                    for sample in batch {
                        samples += 1
                        bytes += sample.count
                        if first == nil { first = sample }
                    }
                }
                let seconds = FileClient.seconds() - start
                if let s = first {
                    print("first sample: #\(s.index) \(s.key), label \(s.label.map { "\($0.index) (\($0.name))" } ?? "none"), \(s.count) bytes")
                }
                first = nil
                print(String(format: "epoch %d: %d samples, %.1f MB in %.2f s: %.0f samples/s, %.1f MB/s",
                             epoch, samples, Double(bytes) / 1e6, seconds, Double(samples) / seconds, Double(bytes) / 1e6 / seconds))
            }
            // 5. Every buffer is back in the pool once the batches are gone.
            print("pool: \(pool.stats.inUseBuffers) buffers in use, \(pool.stats.mappedBytes >> 20) MiB mapped")
            // 6. The state to save with a checkpoint; `Loader(..., resumingFrom: state)` continues from it.
            print("state: \(loader.state)")
        } catch {
            fail("\(error)")
        }
    }
}
