#if canImport(Glibc)
import Glibc
#endif
import CVerbs
import GranaryCore

/// The small, blocking pieces of librdmacm the transport uses while dialing and listening:
/// address lookup, waiting for one connection-manager event with a deadline, and the hello that
/// the dialing side sends in its connect request.
enum RDMAConnectionManager {
    /// One event, copied out (the librdmacm event is acknowledged before this returns).
    struct Event {
        let kind: rdma_cm_event_type
        let status: Int32
        let id: UnsafeMutablePointer<rdma_cm_id>?
        let privateData: [UInt8]

        var name: String { String(cString: rdma_event_str(kind)) }
    }

    /// Waits up to `timeoutMs` for the next event on `channel` (its fd is blocking or not; poll decides).
    static func nextEvent(_ channel: UnsafeMutablePointer<rdma_event_channel>, timeoutMs: Int) -> Event? {
        var fd = pollfd(fd: channel.pointee.fd, events: Int16(POLLIN), revents: 0)
        guard poll(&fd, 1, Int32(clamping: timeoutMs)) == 1 else { return nil }
        return takeEvent(channel)
    }

    /// The event waiting on `channel`, copied out and acknowledged, or nil when none is waiting
    /// (the channel's fd is non-blocking) or the channel failed.
    static func takeEvent(_ channel: UnsafeMutablePointer<rdma_event_channel>) -> Event? {
        var e: UnsafeMutablePointer<rdma_cm_event>?
        guard rdma_get_cm_event(channel, &e) == 0, let e else { return nil }
        defer { rdma_ack_cm_event(e) }
        var data: [UInt8] = []
        if let p = e.pointee.param.conn.private_data, e.pointee.param.conn.private_data_len > 0 {
            data = Array(UnsafeRawBufferPointer(start: p, count: Int(e.pointee.param.conn.private_data_len)))
        }
        return Event(kind: e.pointee.event, status: e.pointee.status, id: e.pointee.id, privateData: data)
    }

    /// The IPv4/IPv6 socket address of `endpoint` (names resolved with getaddrinfo).
    static func address(_ endpoint: Endpoint) -> Result<[UInt8], RDMAFailure> {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV
        var res: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(endpoint.host, String(endpoint.port), &hints, &res)
        guard rc == 0, let first = res, let sa = first.pointee.ai_addr else {
            return .failure(RDMAFailure(reason: "cannot resolve \(endpoint.host): \(String(cString: gai_strerror(rc)))"))
        }
        defer { freeaddrinfo(res) }
        return .success(Array(UnsafeRawBufferPointer(start: sa, count: Int(first.pointee.ai_addrlen))))
    }

    /// The hello a dialing side puts in its connect request: magic, version, depth, slot size.
    struct Hello: Equatable {
        static let magic: [UInt8] = Array("GRDM".utf8)
        static let version: UInt8 = 1
        var depth: Int
        var slotBytes: Int

        var encoded: [UInt8] {
            var b = Self.magic
            b.append(Self.version)
            b.append(0)
            b.append(UInt8(depth >> 8)); b.append(UInt8(depth & 0xff))
            for shift in stride(from: 24, through: 0, by: -8) { b.append(UInt8((slotBytes >> shift) & 0xff)) }
            return b
        }

        /// Decodes and checks a hello, naming what is wrong with a bad one.
        static func decode(_ b: [UInt8]) -> Result<Hello, RDMAFailure> {
            guard b.count >= 12 else { return .failure(RDMAFailure(reason: "connect request carries \(b.count) bytes of hello, expected 12 (not a Granary peer?)")) }
            guard Array(b[0..<4]) == magic else { return .failure(RDMAFailure(reason: "connect request has no Granary hello (not a Granary peer?)")) }
            guard b[4] == version else { return .failure(RDMAFailure(reason: "RDMA hello version \(b[4]); this build speaks \(version)")) }
            let depth = Int(b[6]) << 8 | Int(b[7])
            let slot = b[8..<12].reduce(0) { $0 << 8 | Int($1) }
            guard RDMASettings.depthRange.contains(depth) else { return .failure(RDMAFailure(reason: "RDMA hello asks for \(depth) slots, outside \(RDMASettings.depthRange)")) }
            guard RDMASettings.slotRange.contains(slot) else { return .failure(RDMAFailure(reason: "RDMA hello asks for \(slot)-byte slots, outside \(RDMASettings.slotRange)")) }
            return .success(Hello(depth: depth, slotBytes: slot))
        }
    }

    /// The reason a reject event gives: the peer's own words when it sent some, else the CM status.
    static func rejectReason(_ e: Event) -> String {
        if !e.privateData.isEmpty, let s = String(bytes: e.privateData.prefix { $0 != 0 }, encoding: .utf8), !s.isEmpty, s.first?.isLetter == true {
            return "refused: \(s)"
        }
        // IB CM reject reason 8 (invalid service id) is what a port with no listener gets.
        if e.status == 8 || e.status == 28 { return "connection refused (nothing listens for RDMA on that port)" }
        return "connection rejected (status \(e.status))"
    }
}

/// A reason, for the few internal steps of the RDMA transport that fail with one.
struct RDMAFailure: Error {
    let reason: String
}
