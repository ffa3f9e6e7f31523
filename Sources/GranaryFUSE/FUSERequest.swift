import CFuse3
import Metrics

/// A kernel request handed from a FUSE worker thread to the task that answers it.
///
/// `@unchecked Sendable` is safe: libfuse lets a request be answered from any thread, and each
/// `FUSERequest` is answered exactly once, by the one task it was handed to; nothing else reads it.
struct FUSERequest: @unchecked Sendable {
    let req: fuse_req_t

    /// The file system the session was made with.
    var fileSystem: GranaryFileSystem {
        // The session's userdata is the retained file system (`FUSEMount` holds the reference).
        Unmanaged<GranaryFileSystem>.fromOpaque(UnsafeRawPointer(fuse_req_userdata(req)!)).takeUnretainedValue()
    }

    /// The uid and gid of the process that made the request.
    var caller: (uid: UInt32, gid: UInt32) {
        guard let ctx = fuse_req_ctx(req) else { return (0, 0) }
        return (ctx.pointee.uid, ctx.pointee.gid)
    }

    /// The process that made the request (0 when the kernel did not say).
    var pid: Int32 {
        guard let ctx = fuse_req_ctx(req) else { return 0 }
        return Int32(ctx.pointee.pid)
    }

    func error(_ errno: Int32) { _ = fuse_reply_err(req, errno) }

    /// Answers on a task of its own: `body` does the work and sends the reply; a failure it throws
    /// is answered with its errno (and logged as `what` when unexpected).
    func respond(op: String, _ what: @escaping @autoclosure @Sendable () -> String,
                 _ body: @escaping @Sendable (GranaryFileSystem) async throws -> Void) {
        let r = self
        Task {
            let fs = r.fileSystem
            let started = ContinuousClock.now
            do { try await body(fs) } catch {
                r.error(fs.errno(error, what()))
                Counter(label: "granary_fuse_errors_total", dimensions: [("op", op)]).increment()
            }
            // Metrics cost nothing unless the mount installed a backend (`--metrics-listen`).
            let took = ContinuousClock.now - started
            Timer(label: "granary_fuse_operation_seconds", dimensions: [("op", op)])
                .recordNanoseconds(took.components.seconds * 1_000_000_000 + took.components.attoseconds / 1_000_000_000)
        }
    }
}
