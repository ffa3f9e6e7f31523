import Foundation
import GranaryClient
import GranaryCore
import GranaryManager
@testable import GranaryTransport
import GranaryWire
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension IntegrationSuites {
    /// A real manager and three real storage processes on loopback.
    @Suite(.serialized) struct ClusterIntegrationTests {
        @Test func chunksThroughTheTransportAndNodeFailureDetection() async throws {
            let cluster = try ClusterHarness(nodes: 3, heartbeatTimeoutMs: 1500)
            defer { cluster.shutdown() }
            let upAfter = await cluster.waitFor(seconds: 30) { $0.nodes.count == 3 && $0.allUp }
            #expect(upAfter != nil, "cluster did not come up; manager log:\n\(cluster.log("manager"))")

            // Put a chunk on every drive of every node, read it back whole and by range.
            let t = TCPTransport(secret: cluster.secret, logger: cluster.logger)
            defer { t.closeAll() }
            let data = (0..<(300 << 10)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
            for (name, ep) in cluster.nodeEndpoints.sorted(by: { $0.key < $1.key }) {
                for d in ["d0", "d1"] {
                    let key = ChunkKey(stripe: UInt64(name.hashValue & 0xFFFF), fragment: d == "d0" ? 0 : 1)
                    _ = try await t.call(ep, .putChunk, ChunkRequest(drive: d, key: key).encoded + data, idempotent: false)
                    #expect(try await t.call(ep, .getChunk, ChunkRequest(drive: d, key: key).encoded) == data)
                    let range = UnsafeMutableRawBufferPointer.allocate(byteCount: 100_000, alignment: 4096)
                    defer { range.deallocate() }
                    try await StorageClient(transport: t).read(ep, drive: d, key: key, offset: 70_000, into: range)
                    #expect(Array(range) == Array(data[70_000..<170_000]))
                    let list = try ChunkList.decode(try await t.call(ep, .listChunks, DriveName(d).encoded))
                    #expect(list.keys == [key])
                }
                // A chunk that is not there is its own error, naming the drive.
                await #expect {
                    _ = try await t.call(ep, .getChunk, ChunkRequest(drive: "d0", key: ChunkKey(stripe: 999_999, fragment: 9)).encoded)
                } throws: { e in
                    let r = (e as? TransportError)?.remoteError
                    return r?.code == .notFound && r?.message.contains("\(name)/d0") == true
                }
            }

            // kill -9 one storage node: the manager marks it down within the heartbeat timeout
            // (plus its check period and our polling).
            cluster.kill9("node-2")
            let downAfter = await cluster.waitFor(seconds: 10) { $0.state(of: "node-2") == .down }
            let seconds = try #require(downAfter)
            #expect(seconds < Double(cluster.heartbeatTimeoutMs) / 1000 * 1.25 + 0.5)
            let client = cluster.manager()
            defer { client.close() }
            let map = try await client.clusterMap()
            #expect(map.state(of: "node-1") == .up)
            #expect(map.state(of: "node-3") == .up)
            let node2 = try #require(map.nodes.first { $0.id.rawValue == "node-2" })
            #expect(node2.drives.count == 2)
            #expect(node2.drives.allSatisfy { $0.state == .down })
            #expect(cluster.log("manager").contains("node node-2 is down"))

            // Restart it: back up, and its chunks survived the kill.
            try cluster.restart("node-2")
            #expect(await cluster.waitFor(seconds: 20) { $0.allUp } != nil)
            let ep = try #require(cluster.nodeEndpoints["node-2"])
            let key = ChunkKey(stripe: UInt64("node-2".hashValue & 0xFFFF), fragment: 0)
            #expect(try await t.call(ep, .getChunk, ChunkRequest(drive: "d0", key: key).encoded) == data)
        }

        @Test func wrongSecretIsRefusedByManagerAndNodes() async throws {
            let cluster = try ClusterHarness(nodes: 1, heartbeatTimeoutMs: 1500)
            defer { cluster.shutdown() }
            #expect(await cluster.waitFor(seconds: 30) { $0.allUp } != nil)
            let intruder = TCPTransport(secret: ClusterSecret.generate(), logger: cluster.logger)
            for ep in [cluster.managerEndpoint] + Array(cluster.nodeEndpoints.values) {
                await #expect {
                    _ = try await intruder.call(ep, .getClusterMap, [])
                } throws: { e in
                    guard case .authenticationFailed = e as? TransportError else { return false }
                    return true
                }
            }
            try await Task.sleep(for: .milliseconds(100))
            #expect(cluster.log("manager").contains("authentication failed"))
        }

        @Test func liveNodeSurvivesHostileFrames() async throws {
            let cluster = try ClusterHarness(nodes: 1, heartbeatTimeoutMs: 1500)
            defer { cluster.shutdown() }
            #expect(await cluster.waitFor(seconds: 30) { $0.allUp } != nil)
            let ep = try #require(cluster.nodeEndpoints["node-1"])
            let good = TCPTransport(secret: cluster.secret, logger: cluster.logger)
            defer { good.closeAll() }
            #expect(try await good.call(ep, .ping, [1]) == [1])

            let auth = Authenticator(secret: cluster.secret)
            func attacker() throws -> Socket {
                let s = try Socket.connect(ep, timeoutMs: 2000)
                s.setReceiveTimeout(ms: 3000)
                guard case let .success(f) = FrameIO.readFrame(s, maxPayload: 4096) else { throw TransportError.connectionClosed(ep, reason: "no challenge") }
                let ch = try AuthChallenge.decode(f.payload)
                let n = Authenticator.nonce()
                let body = AuthResponse(clientNonce: n, mac: auth.clientProof(serverNonce: ch.serverNonce, clientNonce: n)).encoded
                _ = FrameIO.send(s, FrameHeader(type: .authResponse, requestID: 0, payloadLength: body.count), body)
                _ = FrameIO.readFrame(s, maxPayload: 4096)
                return s
            }
            func closed(_ s: Socket) -> Bool {
                var b = [UInt8](repeating: 0, count: 1)
                return b.withUnsafeMutableBytes { s.receive(into: $0) } == .eof(got: 0)
            }
            let oversized = FrameHeader(type: .putChunk, requestID: 1, payloadLength: (64 << 20) + 1).encoded
            let garbage = (0..<64).map { UInt8(truncatingIfNeeded: $0 &* 37) }
            for bytes in [oversized, garbage] {
                let s = try attacker()
                _ = bytes.withUnsafeBytes { s.send([$0]) }
                #expect(closed(s))
            }
            let s = try attacker()
            let truncated = Array(Frame(type: .ping, requestID: 5, payload: Array(repeating: 1, count: 64)).encoded.prefix(50))
            _ = truncated.withUnsafeBytes { s.send([$0]) }
            s.shutdown()
            try await Task.sleep(for: .milliseconds(100))

            #expect(try await good.call(ep, .ping, [2]) == [2])
            let fresh = TCPTransport(secret: cluster.secret, logger: cluster.logger)
            defer { fresh.closeAll() }
            #expect(try await fresh.call(ep, .ping, [3]) == [3])
            let log = cluster.log("node-1")
            #expect(log.contains("exceeds the limit"))
            #expect(log.contains("bad frame magic"))
            #expect(log.contains("truncated frame"))
        }

        @Test func granaryUpAndClusterStatusJSON() async throws {
            var template = Array("/tmp/granary-up-XXXXXX".utf8CString)
            let dir = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let up = Process()
            up.executableURL = URL(fileURLWithPath: ClusterHarness.binDir + "/granary")
            up.arguments = ["up", "--data", dir + "/cluster", "--nodes", "3", "--drives", "2", "--port", "0", "--client-config", dir + "/client.toml"]
            let out = Pipe()
            up.standardOutput = out
            up.standardError = FileHandle.nullDevice
            try up.run()
            defer { if up.isRunning { up.terminate(); up.waitUntilExit() } }

            // `granary up` prints that it is running once every node and drive is up.
            var text = ""
            let deadline = Date().addingTimeInterval(60)
            while !text.contains("running in the foreground"), Date() < deadline, up.isRunning {
                let d = out.fileHandleForReading.availableData
                if d.isEmpty { break }
                text += String(decoding: d, as: UTF8.self)
            }
            #expect(text.contains("cluster is up: 3 nodes, 6 drives"), "\(text)")

            let status = Process()
            status.executableURL = URL(fileURLWithPath: ClusterHarness.binDir + "/granary")
            status.arguments = ["cluster", "status", "--json", "--config", dir + "/client.toml"]
            let sout = Pipe()
            status.standardOutput = sout
            try status.run()
            let json = sout.fileHandleForReading.readDataToEndOfFile()
            status.waitUntilExit()
            #expect(status.terminationStatus == 0)
            let obj = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
            #expect(obj["nodesUp"] as? Int == 3)
            #expect(obj["drivesUp"] as? Int == 6)
            #expect(obj["healthy"] as? Bool == true)

            up.terminate()
            up.waitUntilExit()
            #expect(up.terminationStatus == 0)
            // Every granaryd it started is gone.
            let pgrep = Process()
            pgrep.executableURL = URL(fileURLWithPath: "/usr/bin/pgrep")
            pgrep.arguments = ["-f", dir + "/cluster/"]
            pgrep.standardOutput = FileHandle.nullDevice
            try pgrep.run()
            pgrep.waitUntilExit()
            #expect(pgrep.terminationStatus == 1)
        }
    }
}
