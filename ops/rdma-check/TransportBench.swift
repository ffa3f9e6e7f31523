import Foundation
import GranaryBuffers
import GranaryCore
import GranaryTransport
import GranaryTransportConformance
import GranaryWire
import Logging
import Synchronization

/// Reads of 1 MiB into registered pool buffers, 16 in flight for two seconds, over RDMA and over
/// TCP in the same run. Under soft-RoCE in an emulated guest the speeds say nothing about
/// hardware; the copy figures are what this checks.
struct TransportBench {
    let address: String
    let logger: Logger

    /// Answers every read with a buffer of the asked size, unfilled: this measures the transport.
    struct Handler: RequestHandler {
        let buffers: BufferPool
        func handle(_ request: Request) async -> Response { handleInline(request) ?? .empty }
        func handleInline(_ request: Request) -> Response? {
            guard let r = try? ReadChunkRequest.decode(request.body) else { return .error(RemoteError(.badRequest, "bad read")) }
            return .data(head: [], .buffer(buffers.take(Int(r.length))))
        }
    }

    struct Row: Codable {
        var transport: String
        var reads: Int
        var bytes: Int
        var seconds: Double
        var mbPerSecond: Double
        var copiedBytesPerByteRead: Double
        var serverStagedBytesPerByteRead: Double?
    }

    func measure(_ name: String, server: any TransportServer, transport: any Transport, registrars: [any ArenaRegistrar],
                 copied: @escaping @Sendable () -> Int, staged: (() -> Int)?) async throws -> Row {
        let pool = try IOBufferPool(.init(arenaBytes: 32 << 20, limitBytes: 64 << 20, lockMemory: false), registrars: registrars, logger: logger)
        let size = 1 << 20
        let req = ReadChunkRequest(drive: "d0", key: ChunkKey(stripe: 1, fragment: 0), offset: 0, length: UInt32(size)).encoded
        _ = try await transport.read(server.endpoint, .readChunk, req, into: try await pool.take(size).bytes)  // connect first
        let copiedBefore = copied(), stagedBefore = staged?() ?? 0
        let reads = Counter()
        let start = Date()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<16 {
                group.addTask {
                    let b = try await pool.take(size)
                    while Date().timeIntervalSince(start) < 2 {
                        _ = try await transport.read(server.endpoint, .readChunk, req, into: b.bytes)
                        reads.value.add(1, ordering: .relaxed)
                    }
                }
            }
            try await group.waitForAll()
        }
        let seconds = Date().timeIntervalSince(start)
        let n = reads.value.load(ordering: .relaxed)
        let bytes = n * size
        return Row(transport: name, reads: n, bytes: bytes, seconds: seconds, mbPerSecond: Double(bytes) / seconds / 1e6,
                   copiedBytesPerByteRead: Double(copied() - copiedBefore) / Double(max(bytes, 1)),
                   serverStagedBytesPerByteRead: staged.map { Double($0() - stagedBefore) / Double(max(bytes, 1)) })
    }

    func run(json: Bool) async -> Bool {
        do {
            let registrar = try RDMARegistrar.load().get()
            let rdmaServer = try RDMAServer(listen: Endpoint(host: address, port: 0), secret: TransportConformance.secret,
                                            handler: Handler(buffers: BufferPool(registrars: [registrar])), logger: logger)
            rdmaServer.start()
            defer { rdmaServer.stop() }
            let rdma = try RDMATransport(secret: TransportConformance.secret, logger: logger)
            defer { rdma.closeAll() }
            let rdmaRow = try await measure("rdma", server: rdmaServer, transport: rdma, registrars: [registrar],
                                            copied: { rdma.readCounters.copiedBytes }, staged: { rdmaServer.stagedBytes })
            let tcpServer = try TCPServer(listen: Endpoint(host: "127.0.0.1", port: 0), secret: TransportConformance.secret,
                                          handler: Handler(buffers: BufferPool()), logger: logger)
            tcpServer.start()
            defer { tcpServer.stop() }
            let tcp = TCPTransport(secret: TransportConformance.secret, logger: logger)
            defer { tcp.closeAll() }
            // TCP receives straight into the caller's buffer: nothing to count.
            let tcpRow = try await measure("tcp", server: tcpServer, transport: tcp, registrars: [], copied: { 0 }, staged: nil)
            let ratio = rdmaRow.mbPerSecond / max(tcpRow.mbPerSecond, 0.001)
            if json {
                struct Report: Codable { var rows: [Row]; var rdmaOverTCP: Double; var note: String }
                let enc = JSONEncoder()
                enc.outputFormatting = [.sortedKeys]
                let report = Report(rows: [rdmaRow, tcpRow], rdmaOverTCP: ratio,
                                    note: "soft-RoCE (rdma_rxe) in a QEMU TCG guest: correctness only, speeds say nothing about hardware")
                print(String(decoding: try enc.encode(report), as: UTF8.self))
            } else {
                for r in [rdmaRow, tcpRow] {
                    print("\(r.transport): \(r.reads) reads of 1 MiB, \(String(format: "%.1f", r.mbPerSecond)) MB/s, copied bytes per byte read \(r.copiedBytesPerByteRead)")
                }
                print(String(format: "rdma / tcp: %.2f (soft-RoCE under TCG: correctness only)", ratio))
            }
            let pass = rdmaRow.copiedBytesPerByteRead == 0 && (rdmaRow.serverStagedBytesPerByteRead ?? 0) == 0 && rdmaRow.reads > 0
            print(pass ? "PASS [bench] reads over RDMA copied no bytes on either side" : "FAIL [bench] reads over RDMA copied bytes")
            return pass
        } catch {
            print("FAIL [bench] \(error)")
            return false
        }
    }
}
