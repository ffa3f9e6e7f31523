import Foundation
import GranaryCore
import GranaryStorage
import GranaryTransport
import GranaryTransportConformance
import Logging

/// A storage node serving its drives over RDMA: the real chunk store and storage service, with
/// answer buffers registered with the RDMA devices so reads go out by one-sided writes.
enum StorageServer {
    static func serve(address: String, port: UInt16, dir: String, logger: Logger) -> Int32 {
        do {
            try FileManager.default.createDirectory(atPath: dir + "/d0", withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: dir + "/d1", withIntermediateDirectories: true)
            guard let node = NodeID("rdma-node") else { return 1 }
            let store = try ChunkStore(node: node, drives: [("d0", dir + "/d0"), ("d1", dir + "/d1")], logger: logger)
            let registrar = try RDMARegistrar.load().get()
            let service = StorageService(store: store, logger: logger, buffers: BufferPool(registrars: [registrar]))
            let server = try RDMAServer(listen: Endpoint(host: address, port: port), secret: TransportConformance.secret, handler: service, logger: logger)
            server.start()
            FileHandle.standardOutput.write(Data("READY \(server.port)\n".utf8))
            while true { sleep(60) }
        } catch {
            print("serve-storage failed: \(error)")
            return 1
        }
    }
}
