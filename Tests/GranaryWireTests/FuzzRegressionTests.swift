#if canImport(Glibc)
import Glibc
#endif
import GranaryCore
import GranaryWire
import Testing
@testable import granary_fuzz_wire

/// The wire fuzzer's inputs kept as regression tests (ops/fuzz/regressions/wire; docs/OPERATIONS.md,
/// "Fuzzing"). Every file there goes through the fuzz target's own checks (`WireFuzz.check`): it
/// must decode to frames and values or be refused with a `WireError`, never crash, and keep every
/// promise the fuzzer checks. The seeds (`seed-*`, also the fuzzer's starting corpus in
/// ops/fuzz/corpus/wire) must moreover be exactly the frames below and decode to the values they
/// were made from. `GRANARY_FUZZ_WRITE_SEEDS=1 swift test --filter FuzzRegressionTests` rewrites
/// the seed files from this table.
// Serialized: with GRANARY_FUZZ_WRITE_SEEDS set, the seed test rewrites files the other one reads.
@Suite(.serialized) struct FuzzRegressionTests {
    static let root = String(#filePath.prefix(upTo: #filePath.range(of: "/Tests/")!.lowerBound))
    static let regressions = root + "/ops/fuzz/regressions/wire"
    static let corpus = root + "/ops/fuzz/corpus/wire"

    /// One frame of a seed and how to check its payload decodes back to what it was made from.
    struct Item: Sendable {
        var frame: Frame
        var decodesBack: @Sendable ([UInt8]) -> Bool
    }

    /// A seed: a stream of frames as a connection carries them, or a payload alone (the fuzz
    /// target's second path decodes the whole input as every payload type).
    struct Seed: Sendable {
        var name: String
        var items: [Item] = []
        var body: [UInt8]?
        var bodyDecodesBack: (@Sendable ([UInt8]) -> Bool)?

        var bytes: [UInt8] { body ?? items.flatMap(\.frame.encoded) }
    }

    static func binary<P: WirePayload & Equatable>(_ value: P, _ type: MessageType? = nil, flags: UInt8 = 0, id: UInt64) -> Item {
        Item(frame: Frame(type: type ?? P.messageType, flags: flags, requestID: id, payload: value.encoded)) { (try? P.decode($0)) == value }
    }

    static func json<T: Codable & Equatable & Sendable>(_ value: T, _ type: MessageType, flags: UInt8 = 0, id: UInt64) -> Item {
        Item(frame: Frame(type: type, flags: flags, requestID: id, payload: JSONMessage.encode(value))) {
            (try? JSONMessage.decode(T.self, from: $0, message: type)) == value
        }
    }

    static func chunk(_ value: ChunkRequest, _ type: MessageType, data: [UInt8] = [], id: UInt64) -> Item {
        Item(frame: Frame(type: type, requestID: id, payload: value.encoded + data)) { payload in
            if type != .putChunk { return (try? ChunkRequest.decode(payload, type: type)) == value }
            let head = payload.withUnsafeBytes { raw in try? ChunkRequest.decodeHead(raw, type: type) }
            return head.map { $0.0 == value && Array(payload[$0.dataOffset...]) == data } ?? false
        }
    }

    /// A read's data answer: `head length u32 | head | data`, the head the segments' checksums.
    static func dataAnswer(_ data: [UInt8], cuts: [Range<Int>], id: UInt64) -> Item {
        let reply = ReadChunkReply(segments: cuts.map { r in
            .init(length: UInt32(r.count), checksum: data[r].withUnsafeBytes { CRC32C.checksum($0) })
        })
        let head = reply.encoded
        var w = WireWriter()
        w.u32(UInt32(head.count))
        w.raw(head)
        w.raw(data)
        return Item(frame: Frame(type: .readChunk, flags: FrameHeader.responseFlag | FrameHeader.dataFlag, requestID: id, payload: w.bytes)) { p in
            guard p.count >= 4 + head.count, Array(p[4..<4 + head.count]) == head,
                  let decoded = try? ReadChunkReply.decode(head), decoded == reply else { return false }
            let rest = Array(p[(4 + head.count)...])
            return rest.count == decoded.dataLength && rest.withUnsafeBytes { decoded.firstMismatch(in: $0) } == nil
        }
    }

    static let response = FrameHeader.responseFlag
    static let node = NodeID("node-1")!
    static let drive = DriveID(node: node, name: "d0")!
    static let key = ChunkKey(stripe: 0x0102_0304_0506, fragment: 3)
    static let data: [UInt8] = (0..<300).map { UInt8(truncatingIfNeeded: $0 &* 7) }
    static let telemetry = DriveTelemetry(seconds: 1.5, reads: 40, writes: 2, readBytes: 4 << 20, writeBytes: 1 << 20,
                                          readMeanMs: 0.75, readP50Ms: 0.5, readP99Ms: 3.25, writeMeanMs: 1.5, writeP99Ms: 4,
                                          queueDepth: 0.25, errors: 1, crcFailures: 0,
                                          smart: SmartReading(device: "/dev/sda", model: "M", serial: "S", passed: true, temperatureC: 35, raw: [5: 0, 197: 2]))
    static let heartbeat = NodeHeartbeat(node: node, address: Endpoint(host: "10.0.0.7", port: 7401), drives: [
        DriveReport(name: "d0", condition: .ok, capacityBytes: 1 << 40, usedBytes: 1 << 30, freeBytes: (1 << 40) - (1 << 30), chunkCount: 12, telemetry: telemetry),
        DriveReport(name: "d1", condition: .readOnly, problem: "read-only file system"),
    ])
    static let map = ClusterMap(version: 42, nodes: [
        NodeInfo(id: node, address: Endpoint(host: "10.0.0.7", port: 7401), state: .up, lastHeartbeat: 1_700_000_000.5, drives: [
            DriveInfo(id: drive, state: .up, capacityBytes: 1 << 40, usedBytes: 1 << 30, freeBytes: 1 << 39, chunkCount: 12),
            DriveInfo(id: DriveID(node: node, name: "d1")!, state: .readOnly, problem: "read-only file system", health: .suspect, healthNote: "3x slower than its peers"),
        ]),
        NodeInfo(id: NodeID("node-2")!, address: Endpoint(host: "::1", port: 7402), state: .drained, drives: []),
    ])

    static let seeds: [Seed] = [
        Seed(name: "seed-auth-handshake", items: [
            binary(AuthChallenge(serverNonce: (0..<32).map { UInt8($0) }), id: 0),
            binary(AuthResponse(clientNonce: (0..<32).map { UInt8(255 - $0) }, mac: (0..<32).map { UInt8($0 &* 5) }), id: 0),
            binary(AuthResult(mac: (0..<32).map { UInt8($0 &* 3) }), id: 0),
        ]),
        Seed(name: "seed-ping", items: [
            Item(frame: Frame(type: .ping, requestID: 1, payload: Array("ping".utf8))) { $0 == Array("ping".utf8) },
            Item(frame: Frame(type: .ping, flags: response, requestID: 1, payload: Array("ping".utf8))) { $0 == Array("ping".utf8) },
        ]),
        Seed(name: "seed-read-chunk", items: [
            binary(ReadChunkRequest(drive: "d0", key: key, offset: 4096, length: 300), id: 7),
            dataAnswer(data, cuts: [0..<100, 100..<300], id: 7),
        ]),
        Seed(name: "seed-put-get-delete-chunk", items: [
            chunk(ChunkRequest(drive: "d0", key: key), .putChunk, data: data, id: 8),
            Item(frame: Frame(type: .putChunk, flags: response, requestID: 8, payload: [])) { $0.isEmpty },
            chunk(ChunkRequest(drive: "d1", key: key), .getChunk, id: 9),
            chunk(ChunkRequest(drive: "d0", key: ChunkKey(stripe: 1, fragment: 0)), .deleteChunk, id: 10),
        ]),
        Seed(name: "seed-list-chunks", items: [
            binary(DriveName("d0"), id: 11),
            binary(ChunkList(keys: [key, ChunkKey(stripe: 1, fragment: 0), ChunkKey(stripe: .max, fragment: .max)]), flags: response, id: 11),
        ]),
        Seed(name: "seed-error-answer", items: [
            chunk(ChunkRequest(drive: "d0", key: key), .getChunk, id: 12),
            binary(RemoteError(.notFound, "chunk stripe 10203040506 fragment 3 not found on node-1/d0"), .getChunk,
                   flags: response | FrameHeader.errorFlag, id: 12),
        ]),
        Seed(name: "seed-heartbeat", items: [
            json(heartbeat, .registerNode, id: 13),
            json(HeartbeatReply(mapVersion: 42), .registerNode, flags: response, id: 13),
            json(heartbeat, .heartbeat, id: 14),
        ]),
        Seed(name: "seed-cluster-map", items: [
            Item(frame: Frame(type: .getClusterMap, requestID: 15, payload: [])) { $0.isEmpty },
            json(map, .getClusterMap, flags: response, id: 15),
        ]),
        Seed(name: "seed-drive-requests", items: [
            json(NodeRequest(node: node), .drainNode, id: 16),
            json(DriveHealthRequest(drive: drive, reason: "operator: slow"), .evictDrive, id: 17),
            json(DriveFaultRequest(drive: drive, fault: FaultSpec(latencyMs: 20, jitterMs: 5, errorRate: 0.01)), .injectDriveFault, id: 18),
            json(map.nodes[0].drives, .driveStatus, flags: response, id: 19),
        ]),
        Seed(name: "seed-body-read-chunk-request", body: ReadChunkRequest(drive: "d0", key: key, offset: 0, length: 1 << 20).encoded) {
            (try? ReadChunkRequest.decode($0)) == ReadChunkRequest(drive: "d0", key: key, offset: 0, length: 1 << 20)
        },
        Seed(name: "seed-body-chunk-list", body: ChunkList(keys: [key]).encoded) { (try? ChunkList.decode($0)) == ChunkList(keys: [key]) },
        Seed(name: "seed-body-heartbeat-json", body: JSONMessage.encode(heartbeat)) {
            (try? JSONMessage.decode(NodeHeartbeat.self, from: $0, message: .heartbeat)) == heartbeat
        },
    ]

    /// Rewrites the seed files from the table (with GRANARY_FUZZ_WRITE_SEEDS set).
    static func writeSeeds() throws {
        for dir in [regressions, corpus] {
            try FileIO.makeDirectories(dir)
            for seed in seeds { try FileIO.writeAtomically("\(dir)/\(seed.name)", seed.bytes) }
        }
    }

    static func files(in dir: String) -> [String] {
        guard let d = opendir(dir) else { return [] }
        defer { closedir(d) }
        var names: [String] = []
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
            if !name.hasPrefix(".") { names.append(name) }
        }
        return names.sorted()
    }

    @Test func seedsAreTheirFramesAndDecodeBack() throws {
        if getenv("GRANARY_FUZZ_WRITE_SEEDS") != nil { try Self.writeSeeds() }
        for seed in Self.seeds {
            for dir in [Self.regressions, Self.corpus] {
                let bytes = try FileIO.readBytes("\(dir)/\(seed.name)")
                #expect(bytes == seed.bytes, "\(dir)/\(seed.name) is not the seed's bytes (rewrite with GRANARY_FUZZ_WRITE_SEEDS=1)")
            }
            let run = WireFuzz.check(seed.bytes)
            #expect(run.problems.isEmpty, "\(seed.name): \(run.problems)")
            if let body = seed.body {
                #expect(seed.bodyDecodesBack?(body) == true, "\(seed.name) does not decode back")
                continue
            }
            #expect(run.outcome.error == nil, "\(seed.name): \(String(describing: run.outcome.error))")
            #expect(run.outcome.frames == seed.items.map(\.frame), "\(seed.name): other frames came out")
            for (item, frame) in zip(seed.items, run.outcome.frames) {
                #expect(item.decodesBack(frame.payload), "\(seed.name): the \(frame.header.type) frame \(frame.header.requestID) does not decode back")
            }
        }
    }

    /// An address that printed as something that does not parse (`,::1]:7402` as `[,::1]]:7402`)
    /// made every cluster map holding it undecodable; such hosts are refused when parsed.
    @Test func endpointsPrintBackToThemselves() {
        for text in [",::1]:7402", "[[a]:1", "a]:1", "a b:1", "é:1", "[::1]\u{301}:80"] {
            #expect(Endpoint(parsing: text) == nil, "\(text.debugDescription)")
        }
        for text in ["127.0.0.1:7400", "[::1]:80", "::1:80", "host-a.example:7401", "[h]:1"] {
            let e = Endpoint(parsing: text)
            #expect(e != nil && Endpoint(parsing: e?.description ?? "") == e, "\(text)")
        }
        let map = #"{"nodes":[{"address":",::1]:7402","drives":[],"id":"n","state":"up"}],"version":1}"#
        #expect(throws: WireError.self) { try JSONMessage.decode(ClusterMap.self, from: Array(map.utf8), message: .getClusterMap) }
    }

    /// Every kept input: refused or decoded, never a crash, every promise kept.
    @Test func everyRegressionInputKeepsThePromises() throws {
        let names = Self.files(in: Self.regressions)
        #expect(names.count >= Self.seeds.count)
        for name in names {
            let run = WireFuzz.check(try FileIO.readBytes("\(Self.regressions)/\(name)"))
            #expect(run.problems.isEmpty, "\(name): \(run.problems)")
        }
    }
}
