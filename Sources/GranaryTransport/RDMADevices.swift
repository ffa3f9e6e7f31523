#if canImport(Glibc)
import Glibc
#endif
import CVerbs

/// The RDMA devices this host offers, as libibverbs sees them. The RDMA transport (a later issue)
/// starts here; on a host without RDMA it explains why, and names the TCP fallback.
public enum RDMADevices {
    /// The names of the RDMA devices (`rxe0`, `mlx5_0`), or the reason there are none.
    public static func list() -> Result<[String], TransportError> {
        var count: Int32 = 0
        guard let list = ibv_get_device_list(&count) else {
            let reason = errno == ENOSYS
                ? "this kernel has no RDMA support (ibv_get_device_list: \(String(cString: strerror(errno))))"
                : "ibv_get_device_list failed: \(String(cString: strerror(errno)))"
            return .failure(.rdmaUnavailable(reason: reason))
        }
        defer { ibv_free_device_list(list) }
        var names: [String] = []
        for i in 0..<Int(count) {
            if let dev = list[i], let name = ibv_get_device_name(dev) { names.append(String(cString: name)) }
        }
        if names.isEmpty { return .failure(.rdmaUnavailable(reason: "no RDMA device found")) }
        return .success(names)
    }
}
