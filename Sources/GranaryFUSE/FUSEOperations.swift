#if canImport(Glibc)
import Glibc
#endif
import CFuse3
import GranaryClient
import GranaryMeta

/// The libfuse low-level operation table: each callback copies what it needs out of the kernel's
/// request, hands it to a task that calls `GranaryFileSystem`, and that task replies. FUSE worker
/// threads never wait for the network, so many reads are in flight at once.
///
/// Built in a function (not top-level code): Swift 6 makes top-level closures main-actor
/// isolated, and a worker thread calling one traps (PLATFORM.md).
enum FUSEOperations {
    static func table() -> fuse_lowlevel_ops {
        var ops = fuse_lowlevel_ops()
        ops.`init` = { userdata, conn in
            guard let userdata, let conn else { return }
            let fs = Unmanaged<GranaryFileSystem>.fromOpaque(userdata).takeUnretainedValue()
            conn.pointee.max_write = UInt32(fs.options.maxIO)
            conn.pointee.max_readahead = UInt32(fs.options.readahead)
            conn.pointee.max_read = UInt32(fs.options.maxIO)
            conn.pointee.want |= UInt32(FUSE_CAP_ASYNC_READ)
            if conn.pointee.capable & UInt32(FUSE_CAP_READDIRPLUS) != 0 { conn.pointee.want |= UInt32(FUSE_CAP_READDIRPLUS) }
            // open(O_TRUNC) arrives as one request instead of a truncate first, so the new content
            // can replace the old at close rather than the file going empty at open.
            if conn.pointee.capable & UInt32(FUSE_CAP_ATOMIC_O_TRUNC) != 0 { conn.pointee.want |= UInt32(FUSE_CAP_ATOMIC_O_TRUNC) }
        }
        ops.lookup = { req, parent, name in
            guard let req, let name else { return }
            let r = FUSERequest(req: req), n = String(cString: name)
            r.respond(op: "lookup", "lookup '\(n)' in inode \(parent)") { fs in
                var e = fs.entry(try await fs.lookup(parent: InodeID(parent), name: n))
                fuse_reply_entry(r.req, &e)
            }
        }
        ops.forget = { req, _, _ in
            // Inode numbers are Granary's own and never reused: nothing to release.
            if let req { fuse_reply_none(req) }
        }
        ops.getattr = { req, ino, _ in
            guard let req else { return }
            let r = FUSERequest(req: req)
            r.respond(op: "getattr", "getattr inode \(ino)") { fs in
                var st = fs.attributes(try await fs.getattr(InodeID(ino)))
                fuse_reply_attr(r.req, &st, fs.options.attrTimeout)
            }
        }
        ops.readlink = { req, ino in
            guard let req else { return }
            let r = FUSERequest(req: req)
            r.respond(op: "readlink", "readlink inode \(ino)") { fs in _ = fuse_reply_readlink(r.req, try await fs.readlink(InodeID(ino))) }
        }
        ops.mkdir = { req, parent, name, mode in
            guard let req, let name else { return }
            let r = FUSERequest(req: req), n = String(cString: name), who = r.caller
            r.respond(op: "mkdir", "mkdir '\(n)' in inode \(parent)") { fs in
                var e = fs.entry(try await fs.mkdir(parent: InodeID(parent), name: n, mode: UInt32(mode), uid: who.uid, gid: who.gid))
                fuse_reply_entry(r.req, &e)
            }
        }
        ops.symlink = { req, link, parent, name in
            guard let req, let link, let name else { return }
            let r = FUSERequest(req: req), n = String(cString: name), target = String(cString: link), who = r.caller
            r.respond(op: "symlink", "symlink '\(n)' in inode \(parent)") { fs in
                var e = fs.entry(try await fs.symlink(parent: InodeID(parent), name: n, target: target, uid: who.uid, gid: who.gid))
                fuse_reply_entry(r.req, &e)
            }
        }
        ops.unlink = { req, parent, name in
            guard let req, let name else { return }
            let r = FUSERequest(req: req), n = String(cString: name)
            r.respond(op: "unlink", "unlink '\(n)' in inode \(parent)") { fs in try await fs.unlink(parent: InodeID(parent), name: n); r.error(0) }
        }
        ops.rmdir = { req, parent, name in
            guard let req, let name else { return }
            let r = FUSERequest(req: req), n = String(cString: name)
            r.respond(op: "rmdir", "rmdir '\(n)' in inode \(parent)") { fs in try await fs.rmdir(parent: InodeID(parent), name: n); r.error(0) }
        }
        ops.rename = { req, parent, name, newParent, newName, flags in
            guard let req, let name, let newName else { return }
            let r = FUSERequest(req: req), n = String(cString: name), nn = String(cString: newName)
            guard flags == 0 else { r.error(EINVAL); return }  // RENAME_EXCHANGE / NOREPLACE are not offered
            r.respond(op: "rename", "rename '\(n)' to '\(nn)'") { fs in try await fs.rename(parent: InodeID(parent), name: n, to: InodeID(newParent), nn); r.error(0) }
        }
        ops.open = { req, ino, fi in
            guard let req, let fi else { return }
            let r = FUSERequest(req: req), flags = fi.pointee.flags, info = FileInfo(fi)
            r.respond(op: "open", "open inode \(ino)") { fs in
                let (handle, keep) = try await fs.open(InodeID(ino), flags: flags)
                var f = info.value
                f.fh = handle
                f.keep_cache = keep ? 1 : 0
                fuse_reply_open(r.req, &f)
            }
        }
        ops.read = { req, ino, size, offset, fi in
            guard let req, let fi else { return }
            let r = FUSERequest(req: req), handle = fi.pointee.fh, pid = r.pid
            r.respond(op: "read", "read inode \(ino) at \(offset)") { fs in
                let buffer = OwnedBuffer(count: size)
                let n = try await fs.read(handle, offset: Int64(offset), into: buffer.raw, pid: pid)
                fuse_reply_buf(r.req, buffer.raw.baseAddress?.assumingMemoryBound(to: CChar.self), n)
            }
        }
        ops.create = { req, parent, name, mode, fi in
            guard let req, let name, let fi else { return }
            let r = FUSERequest(req: req), n = String(cString: name), info = FileInfo(fi), who = r.caller
            r.respond(op: "create", "create '\(n)' in inode \(parent)") { fs in
                let (handle, inode) = try await fs.create(parent: InodeID(parent), name: n, mode: UInt32(mode), caller: who)
                var e = fs.entry(inode)
                var f = info.value
                f.fh = handle
                fuse_reply_create(r.req, &e, &f)
            }
        }
        ops.write = { req, ino, buf, size, offset, fi in
            guard let req, let fi else { return }
            let r = FUSERequest(req: req), handle = fi.pointee.fh
            // The kernel's buffer is only valid during this call: copy it for the task.
            let data = OwnedBuffer(count: size)
            if let buf, size > 0 { data.raw.copyMemory(from: UnsafeRawBufferPointer(start: buf, count: size)) }
            r.respond(op: "write", "write inode \(ino) at \(offset)") { fs in
                let n = try await fs.write(handle, offset: Int64(offset), bytes: data)
                fuse_reply_write(r.req, n)
            }
        }
        ops.flush = { req, ino, fi in
            guard let req, let fi else { return }
            let r = FUSERequest(req: req), handle = fi.pointee.fh
            let pid = fuse_req_ctx(req)?.pointee.pid ?? 0
            r.respond(op: "close", "close inode \(ino)") { fs in try await fs.flush(handle, pid: pid); r.error(0) }
        }
        ops.fsync = { req, ino, _, fi in
            guard let req, let fi else { return }
            let r = FUSERequest(req: req), handle = fi.pointee.fh
            r.respond(op: "fsync", "fsync inode \(ino)") { fs in try await fs.fsync(handle); r.error(0) }
        }
        ops.setattr = { req, ino, attr, toSet, _ in
            guard let req, let attr else { return }
            let r = FUSERequest(req: req), a = attr.pointee
            let mode = toSet & FUSE_SET_ATTR_MODE != 0 ? UInt32(a.st_mode) & 0o7777 : nil
            let uid = toSet & FUSE_SET_ATTR_UID != 0 ? UInt32(a.st_uid) : nil
            let gid = toSet & FUSE_SET_ATTR_GID != 0 ? UInt32(a.st_gid) : nil
            let size = toSet & FUSE_SET_ATTR_SIZE != 0 ? Int64(a.st_size) : nil
            let mtime: Double?
            if toSet & FUSE_SET_ATTR_MTIME_NOW != 0 {
                var ts = timespec()
                clock_gettime(CLOCK_REALTIME, &ts)
                mtime = Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
            } else if toSet & FUSE_SET_ATTR_MTIME != 0 {
                mtime = Double(a.st_mtim.tv_sec) + Double(a.st_mtim.tv_nsec) / 1e9
            } else {
                mtime = nil
            }
            r.respond(op: "setattr", "setattr inode \(ino)") { fs in
                var st = fs.attributes(try await fs.setattr(InodeID(ino), mode: mode, uid: uid, gid: gid, size: size, mtime: mtime))
                fuse_reply_attr(r.req, &st, fs.options.attrTimeout)
            }
        }
        ops.release = { req, _, fi in
            guard let req, let fi else { return }
            let r = FUSERequest(req: req), handle = fi.pointee.fh
            Task {
                await r.fileSystem.release(handle)
                r.error(0)
            }
        }
        ops.opendir = { req, ino, fi in
            guard let req, let fi else { return }
            let r = FUSERequest(req: req), info = FileInfo(fi)
            r.respond(op: "opendir", "opendir inode \(ino)") { fs in
                var f = info.value
                f.fh = try await fs.opendir(InodeID(ino))
                fuse_reply_open(r.req, &f)
            }
        }
        ops.readdir = { req, _, size, offset, fi in
            guard let req, let fi else { return }
            FUSEOperations.reply(directory: FUSERequest(req: req), handle: fi.pointee.fh, size: size, offset: Int(offset), plus: false)
        }
        ops.readdirplus = { req, _, size, offset, fi in
            guard let req, let fi else { return }
            FUSEOperations.reply(directory: FUSERequest(req: req), handle: fi.pointee.fh, size: size, offset: Int(offset), plus: true)
        }
        ops.releasedir = { req, _, fi in
            guard let req, let fi else { return }
            FUSERequest(req: req).fileSystem.releasedir(fi.pointee.fh)
            fuse_reply_err(req, 0)
        }
        ops.statfs = { req, _ in
            guard let req else { return }
            let r = FUSERequest(req: req)
            r.respond(op: "statfs", "statfs") { fs in
                let s = try await fs.statfs()
                var st = statvfs()
                let block = UInt(fs.options.maxIO)
                st.f_bsize = block
                st.f_frsize = block
                st.f_blocks = fsblkcnt_t(s.capacity / Int64(block))
                st.f_bfree = fsblkcnt_t(s.free / Int64(block))
                st.f_bavail = st.f_bfree
                st.f_namemax = 255
                fuse_reply_statfs(r.req, &st)
            }
        }
        return ops
    }

    /// Fills one page of an open directory's listing from `offset` (the index of the next entry).
    static func reply(directory r: FUSERequest, handle: UInt64, size: Int, offset: Int, plus: Bool) {
        let fs = r.fileSystem
        var buffer = [CChar](repeating: 0, count: size)
        var used = 0
        var index = offset
        buffer.withUnsafeMutableBufferPointer { out in
            for e in fs.directoryEntries(handle, from: offset) {
                guard let inode = e.inode, let base = out.baseAddress else { index += 1; continue }
                let next = off_t(index + 1)
                let needed: Int
                if plus {
                    var entry = fs.entry(inode)
                    needed = fuse_add_direntry_plus(r.req, base + used, size - used, e.name, &entry, next)
                } else {
                    var st = fs.attributes(inode)
                    needed = fuse_add_direntry(r.req, base + used, size - used, e.name, &st, next)
                }
                if needed > size - used { break }
                used += needed
                index += 1
            }
            _ = fuse_reply_buf(r.req, out.baseAddress, used)
        }
    }
}

/// A copy of the kernel's `fuse_file_info` of a request, carried to the task that answers it.
/// libfuse's own lives on the worker thread's stack and is gone once the callback returns, so the
/// reply is made from this copy (libfuse copies what it needs out of it at the reply).
///
/// `@unchecked Sendable` is safe: it is a plain value (numbers and bit fields, no pointers).
struct FileInfo: @unchecked Sendable {
    let value: fuse_file_info
    init(_ p: UnsafeMutablePointer<fuse_file_info>) { value = p.pointee }
}
