// The wire decoder's fuzz target (issue 10): libFuzzer calls `LLVMFuzzerTestOneInput` with bytes a
// peer could send. `ops/fuzz/run` builds it with `-sanitize=fuzzer,address -D GRANARY_FUZZING`, and
// libFuzzer's driver runs it; a plain `swift build` gets the `main` at the bottom instead, which
// replays input files (`swift run granary-fuzz-wire FILE...`), so the package still builds and links
// without the sanitizer, and GranaryWireTests runs the same checks on ops/fuzz/regressions/wire.
//
// Every input goes through two paths:
// - as a stream (`FrameDecoder`), fed once whole and once in pieces cut by the input's own hash, as
//   a connection would deliver it; each complete frame's payload is decoded with the real decoders
//   of its message type (error bodies, bulk-data answers, requests and answers);
// - as a body alone: the whole input decoded as every payload type.
// Anything thrown is fine. A crash, a trap, an over-read (AddressSanitizer), a hang or runaway memory
// is a finding; so is a broken promise of the decoders (see `WireFuzz`), which the entry point turns
// into a trap so that libFuzzer keeps the input.
#if canImport(Glibc)
import Glibc
#endif
import GranaryCore
import GranaryWire

/// One input's run through the wire decoders, and the promises it found broken: decoding never
/// crashes; how the stream is cut never changes the frames (or the error) that come out; a binary
/// payload that decodes re-encodes to exactly its bytes; a decoded value of any kind survives an
/// encode/decode round trip.
struct WireFuzz {
    /// The payload limit the decoder is given: small enough that `frameTooLarge` is reachable, large
    /// enough for every payload a seed carries.
    static let maxPayload = 1 << 16

    /// What the stream path got: the frames, then the error that ended the stream, if any.
    struct Outcome: Equatable {
        var frames: [Frame] = []
        var error: WireError?
    }

    private(set) var outcome = Outcome()
    /// Broken promises, in words; empty when all held.
    private(set) var problems: [String] = []

    static func check(_ input: [UInt8]) -> WireFuzz {
        var run = WireFuzz()
        run.stream(input)
        run.bodies(input)
        return run
    }

    private mutating func fail(_ what: String) { problems.append(what) }

    // MARK: Stream

    private mutating func stream(_ input: [UInt8]) {
        let whole = Self.decodeStream(input, pieces: [input.count])
        let cut = Self.decodeStream(input, pieces: Self.pieceSizes(input))
        if whole != cut { fail("the frames depend on how the stream was cut: \(whole) vs \(cut)") }
        outcome = whole
        for frame in whole.frames { decodePayload(frame) }
    }

    /// What a connection gets from these bytes arriving in pieces of the given sizes, then the end
    /// of the stream.
    static func decodeStream(_ input: [UInt8], pieces: [Int]) -> Outcome {
        var d = FrameDecoder(maxPayload: maxPayload)
        var out = Outcome()
        var at = 0
        var i = 0
        do throws(WireError) {
            while at < input.count {
                let n = min(max(1, pieces[min(i, pieces.count - 1)]), input.count - at)
                d.feed(input[at..<at + n])
                at += n
                i += 1
                while let f = try d.next() { out.frames.append(f) }
            }
            try d.finish()
        } catch {
            out.error = error
        }
        return out
    }

    /// Piece sizes of 1 to 41 bytes from a hash of the input: the same for one input (so a finding
    /// replays), different across inputs, and often splitting the 20-byte header.
    static func pieceSizes(_ input: [UInt8]) -> [Int] {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in input { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
        var sizes: [Int] = []
        var covered = 0
        while covered < input.count {
            h = h &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let n = 1 + Int((h >> 33) % 41)
            sizes.append(n)
            covered += n
        }
        return sizes.isEmpty ? [1] : sizes
    }

    /// Decodes a frame's payload as its receiver would: an error body, a bulk-data answer, or every
    /// request and answer body its message type carries.
    private mutating func decodePayload(_ frame: Frame) {
        let p = frame.payload
        let type = frame.header.type
        if frame.header.isError { return binary(RemoteError.self, p) }
        if frame.header.carriesData { return dataAnswer(p) }
        switch type {
        case .authChallenge: binary(AuthChallenge.self, p)
        case .authResponse: binary(AuthResponse.self, p)
        case .authResult: binary(AuthResult.self, p)
        case .ping: break  // echoed as it came
        case .putChunk: putHead(p)
        case .getChunk, .deleteChunk: chunkRequest(p, type: type)
        case .readChunk:
            binary(ReadChunkRequest.self, p)
            binary(ReadChunkReply.self, p)
        case .listChunks:
            binary(DriveName.self, p)
            binary(ChunkList.self, p)
        case .driveStatus: json([DriveInfo].self, p, type)
        case .injectFault, .injectDriveFault: json(DriveFaultRequest.self, p, type)
        case .registerNode, .heartbeat:
            json(NodeHeartbeat.self, p, type)
            json(HeartbeatReply.self, p, type)
        case .getClusterMap: json(ClusterMap.self, p, type)
        case .drainNode, .undrainNode:
            json(NodeRequest.self, p, type)
            json(ClusterMap.self, p, type)
        case .evictDrive, .rejoinDrive: json(DriveHealthRequest.self, p, type)
        // Their bodies (ManagerStatus, MetaRequest and MetaReply, RepairStatus, HealthReport) live in
        // GranaryManager and GranaryMeta, outside this target; their frames are still fuzzed.
        case .managerStatus, .meta, .repairStatus, .startScrub, .healthStatus: break
        }
    }

    /// A data answer as the transports split it, `head length u32 | head | data`: the head a
    /// `ReadChunkReply` whose segments are checked against the data.
    private mutating func dataAnswer(_ p: [UInt8]) {
        guard p.count >= 4 else { return }
        let headLength = p[0..<4].reduce(0) { $0 << 8 | Int($1) }
        guard headLength <= p.count - 4 else { return }
        let head = Array(p[4..<4 + headLength])
        binary(ReadChunkReply.self, head)
        guard let reply = try? ReadChunkReply.decode(head) else { return }
        // The transports compare the length first; `firstMismatch` must survive short data anyway.
        let data = Array(p[(4 + headLength)...])
        _ = data.withUnsafeBytes { reply.firstMismatch(in: $0) }
    }

    // MARK: Bodies alone

    private mutating func bodies(_ input: [UInt8]) {
        binary(AuthChallenge.self, input)
        binary(AuthResponse.self, input)
        binary(AuthResult.self, input)
        binary(RemoteError.self, input)
        binary(ReadChunkRequest.self, input)
        binary(ReadChunkReply.self, input)
        binary(DriveName.self, input)
        binary(ChunkList.self, input)
        chunkRequest(input, type: .getChunk)
        putHead(input)
        dataAnswer(input)
        // JSON only where there could be an object at all: Foundation's decoder is slow to refuse.
        guard input.contains(UInt8(ascii: "{")) || input.contains(UInt8(ascii: "[")) else { return }
        json(NodeHeartbeat.self, input, .heartbeat)
        json(HeartbeatReply.self, input, .heartbeat)
        json(NodeRequest.self, input, .drainNode)
        json(DriveHealthRequest.self, input, .evictDrive)
        json(DriveFaultRequest.self, input, .injectFault)
        json(ClusterMap.self, input, .getClusterMap)
        json([DriveInfo].self, input, .driveStatus)
    }

    // MARK: Decoders and their promises

    private mutating func binary<P: WirePayload & Equatable>(_: P.Type, _ bytes: [UInt8]) {
        let value: P
        do throws(WireError) { value = try P.decode(bytes) } catch { return }
        let again = value.encoded
        // An unknown error code from a newer peer is kept as `internalError` (by design), so only a
        // known code re-encodes to the same bytes.
        var exact = true
        if let e = value as? RemoteError, bytes.count >= 2 { exact = e.code.rawValue == UInt16(bytes[0]) << 8 | UInt16(bytes[1]) }
        if exact, again != bytes { fail("\(P.self) decoded from \(hex(bytes)) re-encodes as \(hex(again))") }
        if (try? P.decode(again)) != value { fail("\(P.self) \(value) does not survive a round trip") }
    }

    private mutating func chunkRequest(_ bytes: [UInt8], type: MessageType) {
        let value: ChunkRequest
        do throws(WireError) { value = try ChunkRequest.decode(bytes, type: type) } catch { return }
        if value.encoded != bytes { fail("ChunkRequest decoded from \(hex(bytes)) re-encodes as \(hex(value.encoded))") }
    }

    /// A put-chunk body: the request's fields, then data to the end.
    private mutating func putHead(_ bytes: [UInt8]) {
        let decoded: (ChunkRequest, dataOffset: Int)? = bytes.withUnsafeBytes { raw in
            do throws(WireError) { return try ChunkRequest.decodeHead(raw, type: .putChunk) } catch { return nil }
        }
        guard let (value, offset) = decoded else { return }
        if offset > bytes.count || value.encoded != Array(bytes[..<offset]) {
            fail("put-chunk head \(value) ends at \(offset) of \(bytes.count) bytes")
        }
    }

    private mutating func json<T: Codable & Equatable>(_: T.Type, _ bytes: [UInt8], _ type: MessageType) {
        let value: T
        do throws(WireError) { value = try JSONMessage.decode(T.self, from: bytes, message: type) } catch { return }
        let again = JSONMessage.encode(value)
        if (try? JSONMessage.decode(T.self, from: again, message: type)) != value {
            fail("\(T.self) \(value) does not survive a JSON round trip (\(String(decoding: again, as: UTF8.self)))")
        }
    }
}

func hex(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef")
    return String(bytes.prefix(64).flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 15)]] })
        + (bytes.count > 64 ? "… (\(bytes.count) bytes)" : "")
}

#if GRANARY_FUZZING
@_cdecl("LLVMFuzzerTestOneInput")
public func granaryFuzzWireOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    if let problem = WireFuzz.check(input).problems.first {
        // A broken promise: trap on purpose so libFuzzer reports the input and keeps it (this is the
        // harness, not a path the product takes with a peer's bytes).
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

@_cdecl("granary_fuzz_wire_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv, granaryFuzzWireOneInput)
}
#else
/// Without libFuzzer: runs each file named on the command line through the same checks and prints
/// what broke; exits 1 if anything did.
@main enum Replay {
    static func main() {
        var failed = false
        for path in CommandLine.arguments.dropFirst() {
            do {
                let run = WireFuzz.check(try FileIO.readBytes(path))
                print(run.problems.isEmpty ? "ok \(path)" : "FAIL \(path): \(run.problems.joined(separator: "; "))")
                failed = failed || !run.problems.isEmpty
            } catch {
                print("cannot read \(path): \(error)")
                failed = true
            }
        }
        exit(failed ? 1 : 0)
    }
}
#endif
