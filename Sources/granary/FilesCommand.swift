import ArgumentParser
import Foundation
import GranaryClient
import GranaryCore
import GranaryMeta

/// The namespace commands: `ls`, `stat`, `cat`, `cp`, `rm`, `mkdir`.
enum FilesCommand {
    /// Runs `body` with a client that checks file modes for the calling user, as the kernel does
    /// on a mount (root passes, as there).
    static func run(_ options: ClientOptions, _ what: String, _ body: (FileClient) async throws -> Void) async throws {
        var settings = FileClientSettings()
        settings.identity = .process
        let (client, transport) = try options.fileClient(settings: settings)
        defer { transport.closeAll() }
        do { try await body(client) } catch let e as CLIError { throw e } catch { throw CLIError("\(what): \(error)") }
    }

    static func mode(_ i: Inode) -> String {
        let t: Character = i.kind == .directory ? "d" : i.kind == .symlink ? "l" : "-"
        let bits = "rwxrwxrwx"
        return String(t) + String(bits.enumerated().map { (n, c) in i.mode & (1 << (8 - n)) != 0 ? c : "-" })
    }
}

struct Ls: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List a Granary directory.")
    @OptionGroup var options: ClientOptions
    @Argument(help: "Granary path.") var path = "/"

    struct Row: Codable { var name: String; var kind: String; var size: Int64; var mode: String; var mtime: Double }

    func run() async throws {
        try await FilesCommand.run(options, "ls \(path)") { c in
            let inode = try await c.authorize(path, [])
            var rows: [Row] = []
            if inode.kind == .directory {
                try c.require(.read, on: inode, at: path)
                for e in try await c.meta.readdir(inode.id) {
                    let i = try await c.meta.getattr(e.inode)
                    rows.append(Row(name: e.name, kind: i.kind.rawValue, size: i.size, mode: FilesCommand.mode(i), mtime: i.mtime))
                }
            } else {
                rows.append(Row(name: path, kind: inode.kind.rawValue, size: inode.size, mode: FilesCommand.mode(inode), mtime: inode.mtime))
            }
            if options.json { print(Output.json(rows)); return }
            print(Output.table(["MODE", "SIZE", "NAME"], rows.map { [$0.mode, "\($0.size)", $0.name + ($0.kind == "directory" ? "/" : "")] }))
        }
    }
}

struct Stat: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stat", abstract: "A file's attributes, layout, stripes and where each fragment lives.")
    @OptionGroup var options: ClientOptions
    @Argument(help: "Granary path.") var path: String

    struct Report: Codable { var inode: Inode; var layout: StripeLayout?; var extents: [Extent]; var stripes: [Stripe] }

    func run() async throws {
        try await FilesCommand.run(options, "stat \(path)") { c in
            let inode = try await c.authorize(path, [])
            guard inode.kind == .file else {
                let layout = inode.kind == .directory ? try await c.meta.effectiveLayout(inode.id) : nil
                if options.json { print(Output.json(Report(inode: inode, layout: layout, extents: [], stripes: []))) } else {
                    print("\(path): \(inode.kind.rawValue), \(inode.id), mode \(FilesCommand.mode(inode)), layout for new files: \(layout?.description ?? "cluster default (\(c.settings.defaultLayout))")")
                }
                return
            }
            let map = try await c.meta.fileMap(inode.id)
            let stripes = map.stripes.values.sorted { $0.id < $1.id }
            if options.json { print(Output.json(Report(inode: inode, layout: stripes.first?.layout, extents: map.extents, stripes: stripes))); return }
            print("\(path): file, \(inode.id), \(inode.size) bytes, mode \(FilesCommand.mode(inode)), \(map.extents.count) extents in \(stripes.count) stripes")
            for e in map.extents {
                guard let s = map.stripes[e.stripe] else { continue }
                print("  bytes \(e.fileOffset)..<\(e.fileEnd): stripe \(String(s.id, radix: 16)) v\(s.version) \(s.layout.k)+\(s.layout.m)\(s.wideLayout.map { " (shrunk from \($0.k)+\($0.m))" } ?? "") at \(e.stripeOffset), fragments of \(s.fragmentLength) bytes on "
                      + s.fragments.map { "\($0.index):\($0.drive)" }.joined(separator: " "))
            }
        }
    }
}

struct Cat: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cat", abstract: "Write a Granary file to standard output.")
    @OptionGroup var options: ClientOptions
    @Argument(help: "Granary path.") var path: String

    func run() async throws {
        try await FilesCommand.run(options, "cat \(path)") { c in
            let inode = try await c.authorize(path, .read)
            guard inode.kind == .file else { throw CLIError("cat \(path): not a regular file") }
            try await c.stream(try await c.meta.fileMap(inode.id), path: path, chunk: 8 << 20) { FileHandle.standardOutput.write(Data($0)) }
        }
    }
}

struct Cp: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cp", abstract: "Copy a file into or out of Granary.",
        discussion: "Prefix Granary paths with 'granary:' (granary:/data/x); the other side is a local path. An existing Granary file is replaced atomically.")
    @OptionGroup var options: ClientOptions
    @Argument(help: "Source.") var source: String
    @Argument(help: "Destination.") var destination: String

    func run() async throws {
        let prefix = "granary:"
        try await FilesCommand.run(options, "cp \(source) \(destination)") { c in
            switch (source.hasPrefix(prefix), destination.hasPrefix(prefix)) {
            case (false, true):
                let bytes: [UInt8]
                do { bytes = try FileIO.readBytes(source, limit: Int.max) } catch { throw CLIError("cp: \(error)") }
                try await c.writeFile(String(destination.dropFirst(prefix.count)), bytes: bytes, replace: true)
            case (true, false):
                let bytes = try await c.readFile(String(source.dropFirst(prefix.count)))
                do { try FileIO.writeAtomically(destination, bytes) } catch { throw CLIError("cp: \(error)") }
            default:
                throw CLIError("cp: exactly one side must be a Granary path (granary:/...)")
            }
        }
    }
}

struct Rm: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove a file, or an empty directory with -d, or a tree with -r.")
    @OptionGroup var options: ClientOptions
    @Flag(name: .short, help: "Remove an empty directory.") var d = false
    @Flag(name: .short, help: "Remove a directory and everything below it.") var r = false
    @Argument(help: "Granary path.") var path: String

    func run() async throws {
        try await FilesCommand.run(options, "rm \(path)") { c in
            guard path.contains(where: { $0 != "/" }) else { throw CLIError("rm: refusing to remove /") }
            let (dir, name) = try c.split(path)
            let parent = try await c.authorize(dir, [.write, .execute])
            let inode = try await c.authorize(path, [])
            if inode.kind == .directory {
                guard d || r else { throw CLIError("rm \(path): is a directory (use -d or -r)") }
                if r { try await removeTree(c, inode, path) }
                try await c.meta.rmdir(parent.id, name)
            } else {
                try await c.meta.unlink(parent.id, name)
            }
        }
    }

    /// Empties `dir` depth first; each directory must be readable, writable and searchable.
    func removeTree(_ c: FileClient, _ dir: Inode, _ path: String) async throws {
        try c.require([.read, .write, .execute], on: dir, at: path)
        for e in try await c.meta.readdir(dir.id) {
            if e.kind == .directory {
                try await removeTree(c, try await c.meta.getattr(e.inode), path + "/" + e.name)
                try await c.meta.rmdir(dir.id, e.name)
            } else {
                try await c.meta.unlink(dir.id, e.name)
            }
        }
    }
}

struct Mkdir: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "mkdir", abstract: "Create a Granary directory and any missing parents.")
    @OptionGroup var options: ClientOptions
    @Argument(help: "Granary path.") var path: String

    func run() async throws {
        try await FilesCommand.run(options, "mkdir \(path)") { c in
            // The deepest directory that exists must be writable and searchable; what is made
            // below it belongs to the caller.
            var existing = path
            while true {
                do {
                    let inode = try await c.authorize(existing, [])
                    if existing != path { try c.require([.write, .execute], on: inode, at: existing) }
                    break
                } catch let ClientError.meta(e) {
                    guard case .notFound = e, existing != "/" else { throw ClientError.meta(e) }
                    existing = FileIO.parent(of: existing)
                    if existing.isEmpty { existing = "/" }
                }
            }
            let who = c.settings.identity ?? AccessIdentity(uid: 0, gids: [0])
            _ = try await c.meta.mkdirAll(path, uid: who.uid, gid: who.gids.first ?? 0)
        }
    }
}

struct LayoutCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "layout", abstract: "Show or set the erasure-code layout of a directory.",
                                                    subcommands: [Set.self, Show.self])

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set the layout new files under a directory get (existing files keep theirs).")
        @OptionGroup var options: ClientOptions
        @Argument(help: "Granary directory.") var path: String
        @Option(help: "Data fragments per stripe.") var k: Int
        @Option(help: "Parity fragments per stripe.") var m: Int
        @Option(help: "Data bytes per fragment (multiple of 4KiB).") var fragmentSize = "1MiB"

        func run() async throws {
            guard let f = ByteSize(parsing: fragmentSize) else { throw ValidationError("--fragment-size: expected a size such as 1MiB") }
            try await FilesCommand.run(options, "layout set \(path)") { c in
                let inode = try await c.meta.resolve(path)
                var layout = StripeLayout(k: k, m: m, fragmentSize: Int(f.bytes), backend: c.settings.defaultLayout.backend)
                layout.backend = try await c.layoutForNewFiles(in: inode.id).backend
                do throws(StripeLayout.Invalid) { try layout.validate() } catch { throw CLIError("layout set \(path): \(error)") }
                try await c.meta.setLayout(inode.id, layout)
                print("\(path): new files get \(layout)")
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The layout new files under a directory get.")
        @OptionGroup var options: ClientOptions
        @Argument(help: "Granary directory.") var path = "/"

        func run() async throws {
            try await FilesCommand.run(options, "layout show \(path)") { c in
                let inode = try await c.meta.resolve(path)
                let layout = try await c.layoutForNewFiles(in: inode.id)
                if options.json { print(Output.json(layout)) } else { print("\(path): \(layout)") }
            }
        }
    }
}
