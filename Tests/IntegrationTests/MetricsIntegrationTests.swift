import Foundation
import GranaryClient
import GranaryCore
import GranaryFUSE
import GranaryMetrics
import GranaryTransport
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension IntegrationSuites {
    /// Prometheus metrics of real `granaryd` processes: scraped over HTTP after a write and a read,
    /// and the endpoint shrugging off requests it does not serve.
    @Suite struct MetricsIntegrationTests {
        /// One raw HTTP exchange: sends `request`, returns everything the server wrote before closing.
        static func exchange(_ endpoint: Endpoint, _ request: [UInt8]) throws -> String {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw CocoaError(.fileReadUnknown) }
            defer { close(fd) }
            var tv = timeval(tv_sec: 10, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = endpoint.port.bigEndian
            addr.sin_addr.s_addr = inet_addr(endpoint.host)
            let connected = withUnsafePointer(to: &addr) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
            }
            guard connected else { throw CocoaError(.fileReadNoSuchFile) }
            _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            var out: [UInt8] = []
            var buf = [UInt8](repeating: 0, count: 65_536)
            while true {
                let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n <= 0 { break }
                out += buf[..<n]
            }
            return String(decoding: out, as: UTF8.self)
        }

        static func get(_ endpoint: Endpoint, _ path: String = "/metrics") throws -> String {
            try exchange(endpoint, Array("GET \(path) HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        }

        /// The value of the sample `name{labels}` in an exposition, if present.
        static func value(_ text: String, _ sample: String) -> Double? {
            for line in text.split(separator: "\n") where line.hasPrefix(sample + " ") {
                return Double(line.dropFirst(sample.count + 1))
            }
            return nil
        }

        @Test func scrapesShowDriveTrafficNodesAndStripesAndBadRequestsAreRefused() async throws {
            let cluster = try ClusterHarness(nodes: 3, drives: 1, heartbeatTimeoutMs: 1500, metrics: true)
            defer { cluster.shutdown() }
            #expect(await cluster.waitFor(seconds: 30) { $0.nodes.count == 3 && $0.allUp } != nil)
            let (client, t) = ErasureIntegrationTests.client(cluster)
            defer { t.closeAll() }
            let dir = try await client.meta.mkdirAll("/m")
            try await client.meta.setLayout(dir.id, StripeLayout(k: 2, m: 1, fragmentSize: 64 << 10, backend: "isa_l_rs_cauchy"))
            let bytes = (0..<(512 << 10)).map { UInt8(truncatingIfNeeded: $0 &* 7) }
            try await client.writeFile("/m/a.bin", bytes: bytes)
            #expect(try await client.readFile("/m/a.bin") == bytes)
            try await Task.sleep(for: .milliseconds(1_500))

            // A storage node: per-drive operations, bytes and a latency histogram.
            let node = try #require(cluster.metricsEndpoints["node-1"])
            let n = try Self.get(node)
            #expect(n.hasPrefix("HTTP/1.1 200 OK"), "\(n.prefix(200))")
            let writes = Self.value(n, #"granary_drive_operations_total{drive="node-1/d0",op="write"}"#)
            #expect((writes ?? 0) >= 1, "\(n.prefix(2_000))")
            #expect((Self.value(n, #"granary_drive_bytes_total{drive="node-1/d0",op="write"}"#) ?? 0) >= Double(64 << 10))
            #expect(n.contains(#"granary_drive_operation_seconds_bucket{drive="node-1/d0",op="write",le="#))
            // The chunk cache: the first read filled it, a second one hits it, on some node.
            #expect(try await client.readFile("/m/a.bin") == bytes)
            var hits = 0.0, cached = 0.0
            for name in ["node-1", "node-2", "node-3"] {
                let text = try Self.get(try #require(cluster.metricsEndpoints[name]))
                hits += Self.value(text, #"granary_chunk_cache_reads_total{result="hit"}"#) ?? 0
                cached += Self.value(text, "granary_chunk_cache_bytes") ?? 0
            }
            #expect(hits >= 1 && cached > 0, "chunk cache hits \(hits), bytes \(cached)")

            // The manager: leadership, nodes and drives by state, stripes.
            let manager = try #require(cluster.metricsEndpoints["manager"])
            let m = try Self.get(manager)
            #expect(Self.value(m, "granary_manager_leader") == 1, "\(m.prefix(2_000))")
            #expect(Self.value(m, #"granary_nodes{state="up"}"#) == 3)
            #expect(Self.value(m, #"granary_drives{state="up"}"#) == 3)
            #expect(Self.value(m, #"granary_drives_health{health="healthy"}"#) == 3)
            #expect(Self.value(m, #"granary_stripes{state="degraded"}"#) == 0)
            #expect(Self.value(m, #"granary_node_up{node="node-2"}"#) == 1)

            // What the endpoint does not serve, and garbage, get an error status; it serves on.
            #expect(try Self.get(manager, "/").hasPrefix("HTTP/1.1 404"))
            #expect(try Self.exchange(manager, Array("POST /metrics HTTP/1.1\r\n\r\n".utf8)).hasPrefix("HTTP/1.1 405"))
            #expect(try Self.exchange(manager, Array("\u{01}\u{02}garbage\r\n\r\n".utf8)).hasPrefix("HTTP/1.1 400"))
            #expect(try Self.exchange(manager, [UInt8](repeating: 65, count: 20_000)).hasPrefix("HTTP/1.1 431"))
            #expect(try Self.get(manager).hasPrefix("HTTP/1.1 200 OK"))
        }
            /// A client's figures (a mount's): cache hits and misses, FUSE operations, transport errors,
        /// published through the process's backend and served by the endpoint.
        @Test(.enabled(if: FUSELibrary.deviceUsable && getuid() == 0, "needs /dev/fuse and root"))
        func aMountsCacheFUSEAndTransportFiguresAreExported() async throws {
            let registry = MetricsBackend.install()
            let server = try MetricsServer(listen: Endpoint(host: "127.0.0.1", port: 0), registry: registry, logger: .init(label: "t"))
            server.start()
            defer { server.stop() }
            let cluster = try ClusterHarness(nodes: 3, drives: 1)
            defer { cluster.shutdown() }
            #expect(await cluster.waitFor(seconds: 30) { $0.nodes.count == 3 && $0.allUp } != nil)
            let (client, t) = ErasureIntegrationTests.client(cluster)
            defer { t.closeAll() }
            let c = try await client.meta.mkdirAll("/c")
            try await client.meta.setLayout(c.id, StripeLayout(k: 2, m: 1, fragmentSize: 64 << 10, backend: "isa_l_rs_cauchy"))
            let bytes = (0..<70_000).map { UInt8(truncatingIfNeeded: $0 &* 11) }
            try await client.writeFile("/c/a", bytes: bytes)
            var settings = CacheSettings()
            settings.memoryBytes = 8 << 20
            settings.directory = nil
            let cache = try ReadCache(client: client, settings: settings, namespace: "metrics-test", logger: cluster.logger)
            client.setCache(cache)
            defer { client.setCache(nil) }
            let mnt = cluster.dir + "/mnt"
            try FileIO.makeDirectories(mnt)
            var o = MountOptions()
            o.attrTimeout = 0
            o.entryTimeout = 0
            let mount = try FUSEMount(mountpoint: mnt, fileSystem: GranaryFileSystem(client: client, options: o, logger: cluster.logger), logger: cluster.logger)
            mount.start()
            defer { mount.stop() }
            for _ in 0..<2 {
                #expect(FileManager.default.contents(atPath: mnt + "/c/a").map { Array($0) } == bytes)
                let fd = open(mnt + "/c/a", O_RDONLY)
                _ = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED)
                close(fd)
            }
            // A call to a port nobody listens on: a transport error of its kind.
            _ = try? await t.call(Endpoint(host: "127.0.0.1", port: try LoopbackStream.freePort()), .ping, [1])
            ClientMetrics(client: client).refresh()

            let text = try Self.get(server.endpoint)
            #expect(text.hasPrefix("HTTP/1.1 200 OK"))
            #expect((Self.value(text, #"granary_cache_requests_total{result="memory_hit"}"#) ?? 0) >= 1, "\(text.prefix(3_000))")
            #expect((Self.value(text, #"granary_cache_requests_total{result="miss"}"#) ?? 0) >= 1)
            #expect((Self.value(text, "granary_cache_hit_ratio") ?? 0) > 0)
            #expect((Self.value(text, #"granary_fuse_operation_seconds_count{op="read"}"#) ?? 0) >= 1)
            #expect((Self.value(text, #"granary_fuse_operation_seconds_count{op="lookup"}"#) ?? 0) >= 1)
            #expect((Self.value(text, #"granary_transport_errors_total{kind="connect_failed"}"#) ?? 0) >= 1)
            #expect((Self.value(text, #"granary_transport_read_bytes_total{path="direct"}"#) ?? 0) > 0)
        }
    }
}
