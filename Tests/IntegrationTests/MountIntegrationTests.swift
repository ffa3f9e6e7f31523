import Foundation
import GranaryClient
import GranaryCore
import GranaryFUSE
import GranaryMeta
import Logging
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension IntegrationSuites {
    /// A real FUSE mount of a real cluster, used by real programs.
    @Suite(.serialized, .enabled(if: FUSELibrary.deviceUsable && getuid() == 0, "needs /dev/fuse and root"))
    struct MountIntegrationTests {
        /// Runs a program; its standard output, or nil when it failed.
        static func run(_ tool: String, _ args: [String], in dir: String? = nil) -> (status: Int32, out: String) {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: tool)
            p.arguments = args
            if let dir { p.currentDirectoryURL = URL(fileURLWithPath: dir) }
            let pipe = Pipe()
            p.standardOutput = pipe
            p.standardError = pipe
            do { try p.run() } catch { return (-1, "\(error)") }
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            return (p.terminationStatus, String(decoding: data, as: UTF8.self))
        }

        @Test func programsReadTheMountAndAStorageNodeDyingMidReadFailsNothing() async throws {
            let cluster = try ClusterHarness(nodes: 6, drives: 1, heartbeatTimeoutMs: 1500)
            defer { cluster.shutdown() }
            #expect(await cluster.waitFor(seconds: 30) { $0.nodes.count == 6 && $0.allUp } != nil)
            let (client, t) = ErasureIntegrationTests.client(cluster)
            defer { t.closeAll() }
            let dest = try await client.meta.mkdirAll("/ds")
            try await client.meta.setLayout(dest.id, StripeLayout(k: 4, m: 2, fragmentSize: 64 << 10, backend: "isa_l_rs_cauchy"))
            let files = try ErasureIntegrationTests.makeTree(cluster.dir + "/src", seed: 7)
            _ = try await Importer(client: client, parallel: 3, verify: false).run(local: cluster.dir + "/src", to: "/ds") { _ in }
            // A large file, so a node can die while it is being read.
            var rng: UInt64 = 99
            var words = [UInt64](repeating: 0, count: (96 << 20) / 8)
            for i in words.indices {
                rng = rng &* 6364136223846793005 &+ 1442695040888963407
                words[i] = rng
            }
            let large = words.withUnsafeBytes { Array($0) }
            try FileIO.writeAtomically(cluster.dir + "/large.bin", large)
            _ = try await client.writeFile("/ds/large.bin", bytes: large)

            let mnt = cluster.dir + "/mnt"
            try FileIO.makeDirectories(mnt)
            let fs = GranaryFileSystem(client: client, options: MountOptions(), logger: cluster.logger)
            let mount = try FUSEMount(mountpoint: mnt, fileSystem: fs, logger: cluster.logger)
            mount.start()
            defer { mount.stop() }
            #expect(MountTable.entry(at: MountTable.canonical(mnt))?.type == "fuse.granary")

            // ls -lR sees every file with its size; sha256sum of every file matches the source.
            let listing = Self.run("/bin/ls", ["-lR", mnt + "/ds"])
            #expect(listing.status == 0)
            for (path, bytes) in files {
                let name = String(path.split(separator: "/").last ?? "")
                #expect(listing.out.contains(" \(bytes.count) ") && listing.out.contains(name), "\(path) missing from ls -lR")
            }
            let sums = Self.run("/usr/bin/sha256sum", files.keys.sorted().map { "." + $0 }, in: cluster.dir + "/src")
            try FileIO.writeAtomically(cluster.dir + "/sums", Array(sums.out.utf8))
            let check = Self.run("/usr/bin/sha256sum", ["-c", "--quiet", cluster.dir + "/sums"], in: mnt + "/ds")
            #expect(check.status == 0, "\(check.out)")
            #expect(Self.run("/bin/cat", [mnt + "/ds/a/f1.bin"]).out.utf8.count == files["/a/f1.bin"]?.count)
            // A Python reader with 16 threads, as a data loader would read: every file's SHA-256 matches.
            let script = """
                import hashlib, os, sys, concurrent.futures as cf
                src, mnt = sys.argv[1], sys.argv[2]
                paths = [os.path.relpath(os.path.join(d, f), src) for d, _, fs in os.walk(src) for f in fs]
                def digest(root, p):
                    with open(os.path.join(root, p), 'rb') as fh:
                        return hashlib.sha256(fh.read()).hexdigest()
                with cf.ThreadPoolExecutor(16) as ex:
                    got = list(ex.map(lambda p: digest(mnt, p), paths * 4))
                want = [digest(src, p) for p in paths] * 4
                bad = [p for p, g, w in zip(paths * 4, got, want) if g != w]
                print(len(got), 'files read,', len(bad), 'differ', bad[:3])
                sys.exit(1 if bad else 0)
                """
            let python = Self.run("/usr/bin/python3", ["-c", script, cluster.dir + "/src", mnt + "/ds"])
            #expect(python.status == 0 && python.out.contains("\(files.count * 4) files read, 0 differ"), "\(python.out)")

            // Namespace changes through the mount: mkdir -p, mv, ln -s, rm -r.
            #expect(Self.run("/bin/mkdir", ["-p", mnt + "/new/deep/er"]).status == 0)
            #expect(Self.run("/bin/mv", [mnt + "/new/deep", mnt + "/new/moved"]).status == 0)
            #expect(Self.run("/bin/ln", ["-s", "../ds/f2.bin", mnt + "/new/link"]).status == 0)
            #expect(Self.run("/bin/readlink", [mnt + "/new/link"]).out == "../ds/f2.bin\n")
            #expect(Self.run("/bin/cmp", [mnt + "/new/link", cluster.dir + "/src/f2.bin"]).status == 0)
            #expect(Self.run("/bin/rm", ["-r", mnt + "/new"]).status == 0)
            #expect(try await client.meta.lookup(.root, "new") == nil)
            // Bad input through the mount gets the right errno.
            #expect(Self.run("/bin/mkdir", [mnt + "/ds"]).out.contains("File exists"))
            #expect(Self.run("/bin/rmdir", [mnt + "/ds"]).out.contains("not empty"))
            #expect(Self.run("/bin/cat", [mnt + "/ds/nope"]).out.contains("No such file"))

            // A storage node dies while the large file is being read: the read completes with the right bytes.
            let reader = Task.detached { Self.run("/usr/bin/sha256sum", [mnt + "/ds/large.bin"]) }
            try await Task.sleep(for: .milliseconds(50))
            cluster.kill9("node-2")
            let out = await reader.value
            let expected = Self.run("/usr/bin/sha256sum", [cluster.dir + "/large.bin"]).out.split(separator: " ").first
            #expect(out.status == 0 && out.out.split(separator: " ").first == expected, "\(out.out)")
            // Every file still reads back right with the node gone (degraded reads through the mount).
            let again = Self.run("/usr/bin/sha256sum", ["-c", "--quiet", cluster.dir + "/sums"], in: mnt + "/ds")
            #expect(again.status == 0, "\(again.out)")
        }

        @Test func filesWrittenThroughTheMountAppearWholeAtCloseAndAKilledWriterLeavesNothing() async throws {
            let cluster = try ClusterHarness(nodes: 6, drives: 1, heartbeatTimeoutMs: 1500)
            defer { cluster.shutdown() }
            #expect(await cluster.waitFor(seconds: 30) { $0.nodes.count == 6 && $0.allUp } != nil)
            let (client, t) = ErasureIntegrationTests.client(cluster)
            defer { t.closeAll() }
            let files = try ErasureIntegrationTests.makeTree(cluster.dir + "/src", seed: 11)
            let mnt = cluster.dir + "/mnt"
            try FileIO.makeDirectories(mnt)
            var mount = try FUSEMount(mountpoint: mnt, fileSystem: GranaryFileSystem(client: client, options: MountOptions(), logger: cluster.logger),
                                      logger: cluster.logger)
            mount.start()

            // cp -r in, every file byte for byte; tar of the copy lists every file.
            #expect(Self.run("/bin/cp", ["-r", cluster.dir + "/src", mnt + "/in"]).status == 0)
            #expect(Self.run("/usr/bin/diff", ["-r", cluster.dir + "/src", mnt + "/in"]).status == 0)
            #expect(Self.run("/bin/cp", ["-r", mnt + "/in", cluster.dir + "/out"]).status == 0)
            #expect(Self.run("/usr/bin/diff", ["-r", cluster.dir + "/src", cluster.dir + "/out"]).status == 0)
            let tar = Self.run("/bin/tar", ["cf", "-", "-C", mnt, "in"])
            #expect(tar.status == 0)
            #expect(try await client.readFile("/in/a/f1.bin") == files["/a/f1.bin"])

            // truncate, chmod and an append through the mount.
            #expect(Self.run("/usr/bin/truncate", ["-s", "5", mnt + "/in/f2.bin"]).status == 0)
            #expect(try await client.meta.resolve("/in/f2.bin").size == 5)
            #expect(Self.run("/bin/chmod", ["600", mnt + "/in/f2.bin"]).status == 0)
            #expect(try await client.meta.resolve("/in/f2.bin").mode == 0o600)
            #expect(Self.run("/bin/sh", ["-c", "printf abc >> \(mnt)/in/f2.bin"]).status == 0)
            #expect(try await client.readFile("/in/f2.bin") == Array(files["/f2.bin"]!.prefix(5)) + Array("abc".utf8))

            // A writer killed halfway through a large file: nothing appears under its name.
            let dd = Process()
            dd.executableURL = URL(fileURLWithPath: "/bin/dd")
            dd.arguments = ["if=/dev/zero", "of=\(mnt)/killed.bin", "bs=1M", "count=100000"]
            try dd.run()
            for _ in 0..<200 where (try? await client.meta.readdir(try await client.meta.resolve("/.granary-tmp").id).first) == nil {
                try await Task.sleep(for: .milliseconds(20))
            }
            try await Task.sleep(for: .milliseconds(500))
            kill(dd.processIdentifier, SIGKILL)
            dd.waitUntilExit()
            try await Task.sleep(for: .milliseconds(500))
            #expect(try await client.meta.lookup(.root, "killed.bin") == nil)
            #expect(!FileManager.default.fileExists(atPath: mnt + "/killed.bin"))

            // A 64 MiB file written fully reads back identical after a remount.
            let big = cluster.dir + "/big.bin"
            #expect(Self.run("/bin/dd", ["if=/dev/urandom", "of=\(big)", "bs=1M", "count=64"]).status == 0)
            #expect(Self.run("/bin/cp", [big, mnt + "/big.bin"]).status == 0)
            mount.stop()
            mount = try FUSEMount(mountpoint: mnt, fileSystem: GranaryFileSystem(client: client, options: MountOptions(), logger: cluster.logger),
                                  logger: cluster.logger)
            mount.start()
            defer { mount.stop() }
            #expect(Self.run("/usr/bin/cmp", [big, mnt + "/big.bin"]).status == 0)
            #expect(Self.run("/usr/bin/diff", ["-r", cluster.dir + "/src/a", mnt + "/in/a"]).status == 0)
        }

        @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv"), "needs setpriv"))
        func modeBitsAreEnforcedForOtherUsersOfAnAllowOtherMount() async throws {
            let cluster = try ClusterHarness(nodes: 6, drives: 1, heartbeatTimeoutMs: 1500)
            defer { cluster.shutdown() }
            #expect(await cluster.waitFor(seconds: 30) { $0.nodes.count == 6 && $0.allUp } != nil)
            let (client, t) = ErasureIntegrationTests.client(cluster)
            defer { t.closeAll() }
            _ = try await client.writeFile("/secret.txt", bytes: Array("root only\n".utf8))
            _ = try await client.writeFile("/public.txt", bytes: Array("everyone\n".utf8))
            try await client.meta.setAttributes(try await client.meta.resolve("/secret.txt").id, mode: 0o600)
            let closed = try await client.meta.mkdirAll("/closed", mode: 0o700)
            _ = closed
            // The mount point's directory must be reachable by the other user.
            let mnt = "/tmp/granary-perm-\(getpid())"
            try FileIO.makeDirectories(mnt)
            chmod(mnt, 0o755)
            defer { rmdir(mnt) }
            var o = MountOptions()
            o.allowOther = true
            let mount = try FUSEMount(mountpoint: mnt, fileSystem: GranaryFileSystem(client: client, options: o, logger: cluster.logger),
                                      logger: cluster.logger)
            mount.start()
            defer { mount.stop() }
            let nobody = ["--reuid=65534", "--regid=65534", "--clear-groups"]
            #expect(Self.run("/usr/bin/setpriv", nobody + ["/bin/cat", mnt + "/public.txt"]).out == "everyone\n")
            let denied = Self.run("/usr/bin/setpriv", nobody + ["/bin/cat", mnt + "/secret.txt"])
            #expect(denied.status != 0 && denied.out.contains("Permission denied"), "\(denied.out)")
            #expect(Self.run("/usr/bin/setpriv", nobody + ["/bin/ls", mnt + "/closed"]).out.contains("Permission denied"))
            #expect(Self.run("/usr/bin/setpriv", nobody + ["/bin/mkdir", mnt + "/mine"]).out.contains("Permission denied"))
            #expect(Self.run("/usr/bin/setpriv", nobody + ["/bin/sh", "-c", "echo x > \(mnt)/public.txt"]).out.contains("Permission denied"))
            // Root still reads everything.
            #expect(Self.run("/bin/cat", [mnt + "/secret.txt"]).out == "root only\n")
        }

        @Test func aMountWhoseProcessDiedIsReportedStaleAndCleanedByUmount() async throws {
            let cluster = try ClusterHarness(nodes: 3, drives: 2, heartbeatTimeoutMs: 1500)
            defer { cluster.shutdown() }
            #expect(await cluster.waitFor(seconds: 30) { $0.nodes.count == 3 && $0.allUp } != nil)
            let config = cluster.dir + "/client.toml"
            try FileIO.writeAtomically(config, ClientConfig(file: config, managers: [cluster.managerEndpoint], secretFile: cluster.secretFile).toml)
            let mnt = cluster.dir + "/mnt"
            try FileIO.makeDirectories(mnt)
            let granary = ClusterHarness.binDir + "/granary"
            let mounted = Self.run(granary, ["mount", mnt, "--config", config, "--log", cluster.dir + "/mount.log"])
            #expect(mounted.status == 0, "\(mounted.out)")
            #expect(MountTable.entry(at: MountTable.canonical(mnt))?.type == "fuse.granary")
            // Mounting again is refused; then the serving process dies.
            #expect(Self.run(granary, ["mount", mnt, "--config", config]).out.contains("already a mount point"))
            let pid = try #require(mounted.out.split(separator: "(process ").last?.split(separator: ",").first.flatMap { Int32($0) })
            kill(pid, SIGKILL)
            try await Task.sleep(for: .milliseconds(300))
            #expect(Self.run("/bin/ls", [mnt]).out.contains("Transport endpoint is not connected"))
            #expect(throws: MountError.stale(mnt)) { try MountTable.checkMountpoint(mnt) }
            let cleaned = Self.run(granary, ["umount", mnt])
            #expect(cleaned.status == 0, "\(cleaned.out)")
            #expect(MountTable.entry(at: mnt) == nil)
            #expect(throws: Never.self) { try MountTable.checkMountpoint(mnt) }
        }

        @Test func badMountPointsAndUnmountsAreRefusedByName() async throws {
            let dir = NSTemporaryDirectory() + "granary-mount-\(getpid())"
            try FileIO.makeDirectories(dir + "/full")
            try FileIO.writeAtomically(dir + "/full/x", [1])
            try FileIO.writeAtomically(dir + "/file", [1])
            defer { try? FileManager.default.removeItem(atPath: dir) }
            #expect(throws: MountError.missingMountpoint(dir + "/missing")) { try MountTable.checkMountpoint(dir + "/missing") }
            #expect(throws: MountError.notEmpty(dir + "/full")) { try MountTable.checkMountpoint(dir + "/full") }
            #expect(throws: MountError.notDirectory(dir + "/file")) { try MountTable.checkMountpoint(dir + "/file") }
            #expect(throws: MountError.alreadyMounted("/proc")) { try MountTable.checkMountpoint("/proc") }
            #expect(throws: MountError.notMounted(dir)) { try MountTable.unmount(dir) }
            #expect(throws: MountError.notGranary("/proc", type: "proc")) { try MountTable.unmount("/proc") }
        }
    }
}
