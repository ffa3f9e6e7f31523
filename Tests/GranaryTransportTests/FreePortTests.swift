import GranaryCore
@testable import GranaryTransport
import Testing

/// Ports handed to daemons started by tests, benchmarks and `granary up`.
@Suite struct FreePortTests {
    @Test func portsComeFromBelowTheEphemeralRangeOnceEachAndCanBeBound() throws {
        let text = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)) ?? "32768"
        let ephemeralLow = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).first.flatMap { Int($0) } ?? 32_768
        var seen = Set<UInt16>()
        for _ in 0..<200 {
            let port = try LoopbackStream.freePort()
            #expect(Int(port) < ephemeralLow, "port \(port) is inside the ephemeral range starting at \(ephemeralLow)")
            #expect(seen.insert(port).inserted, "port \(port) was handed out twice")
        }
        // The port is free: a listener can take it.
        let port = try LoopbackStream.freePort()
        let listener = try Socket.listen(Endpoint(host: "127.0.0.1", port: port))
        #expect(listener.localPort == port)
        listener.shutdown()
    }
}
