import Foundation
import GranaryBuffers
import GranaryClient
import GranaryCore
import GranaryLoader
import GranaryManager
import GranaryStorage
import GranaryTransport
import Logging

/// The loader end to end over RDMA: a manager and three storage nodes configured with
/// `transport = "rdma"` (in this process, on the guest's RDMA address), a dataset imported through
/// the RDMA client, then two epochs streamed by the loader into a pool registered with the device,
/// without and with the prefetch cache. Every sample is compared byte for byte, and the read path
/// must copy no sample bytes: the storage nodes write them into the pool by RDMA WRITE.
struct LoaderDrill {
    let address: String
    let logger: Logger
    let dir = "/tmp/granary-rdma-loader"
    let basePort: UInt16 = 7400

    func run() async -> Bool {
        var ok = true
        func step(_ name: String, _ body: () async throws -> Void) async {
            do {
                try await body()
                print("PASS [loader] \(name)")
            } catch {
                print("FAIL [loader] \(name): \(error)")
                ok = false
            }
        }
        try? FileManager.default.removeItem(atPath: dir)
        var manager: ManagerServer?
        var nodes: [StorageNode] = []
        defer {
            for n in nodes { n.stop() }
            manager?.stop()
        }
        let secret = ClusterSecret.generate()
        let managerEndpoint = Endpoint(host: address, port: basePort)
        var settings = TransportSettings()
        await step("a manager and 3 storage nodes start from configs that say transport = \"rdma\"") {
            try FileIO.makeDirectories(dir)
            let secretFile = dir + "/cluster.secret"
            try secret.save(path: secretFile)
            let m = try config("manager", DaemonConfig.managerTOML(secretFile: secretFile, listen: managerEndpoint,
                                                                  dataDir: dir + "/manager", heartbeatTimeoutMs: 3_000))
            settings = m.transport
            try check(settings.kind == .rdma, "the manager's config reads back transport \(settings.kind)")
            guard let mc = m.manager else { throw CheckFailure(description: "the manager config has no [manager]") }
            manager = try ManagerServer(config: mc, keys: ClusterKeys(secret: secret), settings: settings, logger: logger)
            for i in 1...3 {
                guard let id = NodeID("node-\(i)") else { throw CheckFailure(description: "bad node id") }
                let drives = (0..<2).map { DaemonConfig.Drive(name: "d\($0)", path: "\(dir)/node-\(i)/d\($0)") }
                for d in drives { try FileIO.makeDirectories(d.path) }
                let s = try config("node-\(i)", DaemonConfig.storageTOML(
                    secretFile: secretFile, managers: [managerEndpoint], node: id,
                    listen: Endpoint(host: address, port: basePort + UInt16(i)), heartbeatIntervalMs: 200, drives: drives))
                guard let sc = s.storage else { throw CheckFailure(description: "node-\(i)'s config has no [storage]") }
                nodes.append(try StorageNode(config: sc, managers: s.managers, keys: ClusterKeys(secret: secret), settings: s.transport, logger: logger))
            }
        }
        guard ok else { return false }

        let transport: any Transport
        do { transport = try Transports.client(secret: secret, settings: settings, logger: logger) } catch {
            print("FAIL [loader] RDMA client: \(error)")
            return false
        }
        defer { transport.closeAll() }
        let client = FileClient(managers: [managerEndpoint], transport: transport, logger: logger)
        var files: [String: [UInt8]] = [:]

        await step("the nodes register over RDMA and a 37-sample image folder imports through the RDMA client") {
            var up = false
            for _ in 0..<100 {
                if let map = try? await client.clusterMap(fresh: true), map.nodes.count == 3, map.nodes.allSatisfy({ $0.state == .up }) {
                    up = true
                    break
                }
                try await Task.sleep(for: .milliseconds(100))
            }
            try check(up, "the 3 nodes did not all come up within 10 s")
            let dest = try await client.meta.mkdirAll("/ds")
            try await client.meta.setLayout(dest.id, StripeLayout(k: 2, m: 1, fragmentSize: 64 << 10, backend: "isa_l_rs_cauchy"))
            let local = dir + "/img"
            for i in 0..<37 {
                let cls = ["cat", "dog", "eel"][i % 3]
                let key = "\(cls)/s\(String(format: "%03d", i)).bin"
                // Sizes from 1 KB to 300 KB: packed small files and files of several stripes.
                files[key] = StorageDrill.bytes(1_000 + (i * 8_191) % 300_000, seed: 1_000 + i)
                try FileIO.makeDirectories(local + "/" + cls)
                try FileIO.writeAtomically(local + "/" + key, files[key] ?? [])
            }
            let report = try await Importer(client: client, parallel: 2, verify: true).run(local: local, to: "/ds/img") { _ in }
            try check(report.files == 37 && report.verified == 37, "imported \(report.files), verified \(report.verified)")
        }
        guard ok else { return false }

        for memory in [0, 32 << 20] {
            let what = memory == 0 ? "straight into the loader's pool" : "through the prefetch cache's memory tier"
            await step("two epochs, every sample byte for byte, \(what), copying no sample bytes") {
                defer { client.setCache(nil) }
                let dataset = try await Dataset.open("/ds/img", format: .files(extensions: ["bin"]), label: .pathComponent(-2), client: client)
                // Counted from here: the stored index Dataset.open reads lands in plain memory (it is
                // not sample data), so the transport copies it out of the answer.
                let before = (client.readCounters, transport.readCounters)
                let pool = try IOBufferPool(.init(arenaBytes: 4 << 20, limitBytes: 64 << 20, lockMemory: false),
                                            registrars: client.arenaRegistrars, logger: logger)
                let loader = try Loader(dataset: dataset, client: client, pool: pool,
                                        configuration: LoaderConfiguration(batchSize: 4, seed: 9, concurrentReads: 3, prefetchBatches: 1,
                                                                           hintBatches: 2, prefetchMemoryBytes: memory))
                try check((client.cache != nil) == (memory > 0), "the prefetch cache is \(client.cache == nil ? "off" : "on")")
                var seen = 0
                for epoch in 0..<2 {
                    for try await batch in loader.epoch(epoch) {
                        for sample in batch {
                            try check(Array(sample.bytes) == files[sample.key], "sample \(sample.key) read back different bytes")
                            seen += 1
                        }
                    }
                }
                try check(seen == 74, "\(seen) samples in two epochs, expected 74")
                let client1 = client.readCounters, wire1 = transport.readCounters
                try check(client1.copiedBytes == before.0.copiedBytes, "the client copied \(client1.copiedBytes - before.0.copiedBytes) sample bytes")
                try check(wire1.copiedBytes == before.1.copiedBytes, "the transport copied \(wire1.copiedBytes - before.1.copiedBytes) bytes")
                try check(wire1.directBytes > before.1.directBytes, "no bytes were written by RDMA into registered buffers")
                print("  \(what): \(wire1.directBytes - before.1.directBytes) bytes written by RDMA into registered buffers, 0 copied")
            }
        }
        return ok
    }

    /// Writes `text` with `transport = "rdma"` added to its [cluster] table, and loads it as granaryd would.
    func config(_ name: String, _ text: String) throws -> DaemonConfig {
        let path = "\(dir)/\(name).toml"
        try FileIO.writeAtomically(path, Array(text.replacingOccurrences(of: "[cluster]\n", with: "[cluster]\ntransport = \"rdma\"\n").utf8))
        return try DaemonConfig.load(path: path)
    }
}
