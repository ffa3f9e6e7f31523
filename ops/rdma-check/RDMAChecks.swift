import GranaryTransport
import GranaryTransportConformance
import Logging

/// The conformance checks over RDMA (on `address`) and, for comparison in the same run, over TCP.
enum RDMAChecks {
    static func conformance(address: String) async -> Bool {
        var quiet = Logger(label: "conformance")
        quiet.logLevel = .critical
        let harness: ConformanceHarness
        do {
            harness = try .rdma(host: address, logger: quiet)
        } catch {
            print("FAIL [rdma] setup: \(error)")
            return false
        }
        let rdmaFailed = await TransportConformance.run(harness)
        let tcpFailed = await TransportConformance.run(.tcp(logger: quiet))
        return rdmaFailed.isEmpty && tcpFailed.isEmpty
    }
}
