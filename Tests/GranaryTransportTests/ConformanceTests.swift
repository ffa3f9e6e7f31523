import Foundation
import GranaryCore
import GranaryTransport
import GranaryTransportConformance
import Logging
import Testing

/// The transport conformance checks, over TCP here (and over RDMA too on a host with an RDMA
/// device); `ops/rdma-vm-test` runs the same checks over soft-RoCE in CI.
@Suite struct ConformanceTests {
    static let names = TransportConformance.checks.map(\.name)

    @Test(arguments: names) func tcp(_ name: String) async throws {
        let failed = await TransportConformance.run(.tcp(logger: TestCluster.logger), filter: name)
        #expect(failed.isEmpty)
    }

    @Test(arguments: names) func rdmaWhereADeviceExists(_ name: String) async throws {
        guard let host = ProcessInfo.processInfo.environment["GRANARY_RDMA_ADDRESS"], case .success = RDMADevices.list() else { return }
        let failed = await TransportConformance.run(try .rdma(host: host, logger: TestCluster.logger), filter: name)
        #expect(failed.isEmpty)
    }

    /// With no RDMA device, asking for the RDMA transport fails up front and names the fallback.
    @Test func noDeviceErrorNamesTheTCPFallback() throws {
        guard case .failure = RDMADevices.list() else { return }
        #expect {
            _ = try RDMATransport(secret: TestCluster.secret, logger: TestCluster.logger)
        } throws: { e in
            guard case let .rdmaUnavailable(reason) = e as? TransportError else { return false }
            return !reason.isEmpty && "\(e)".contains("transport = \"tcp\"")
        }
        #expect(throws: TransportError.self) {
            _ = try RDMAServer(listen: Endpoint(host: "127.0.0.1", port: 0), secret: TestCluster.secret, handler: EchoHandler(), logger: TestCluster.logger)
        }
        #expect(throws: TransportError.self) { try RDMARegistrar.load().get() }
        // What a config with `transport = "rdma"` gets: the same error, from the one factory.
        var settings = TransportSettings()
        settings.kind = .rdma
        #expect { _ = try Transports.client(secret: TestCluster.secret, settings: settings, logger: TestCluster.logger) } throws: { e in
            "\(e)".contains("set transport = \"tcp\"")
        }
        #expect { _ = try Transports.server(listen: Endpoint(host: "127.0.0.1", port: 0), secret: TestCluster.secret, settings: settings,
                                            handler: EchoHandler(), logger: TestCluster.logger) } throws: { e in
            "\(e)".contains("set transport = \"tcp\"")
        }
    }
}
