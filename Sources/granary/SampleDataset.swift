import Foundation
import GranaryCore
import GranaryLoader

/// The small synthetic dataset `granary up` imports so a fresh cluster has something to read: an
/// image-folder tree (10 classes of pseudo-random "images" from 8 KiB to 160 KiB, the size spread
/// of compressed training images), a labels file and two WebDataset tar shards of 100 samples each (`NNNNN.jpg` + `NNNNN.cls`). Deterministic, so a
/// second `up` on the same data directory finds it already imported and skips it.
enum SampleDataset {
    static let classes = 10
    static let perClass = 40

    /// Writes the dataset under `dir` unless it is already complete there (a marker beside it,
    /// not inside, so it is not imported).
    static func materialize(_ dir: String) throws {
        let done = dir + ".complete-v2"  // v2: the shards became real WebDataset tars
        if FileIO.exists(done) { return }
        var rng: UInt64 = 0x6772_616e_6172_79
        func next() -> UInt64 { rng = rng &* 6364136223846793005 &+ 1442695040888963407; return rng >> 17 }
        func bytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8(truncatingIfNeeded: next()) } }
        var labels = "path,label\n"
        for c in 0..<classes {
            let cls = String(format: "class-%02d", c)
            try FileIO.makeDirectories("\(dir)/train/\(cls)")
            for i in 0..<perClass {
                let name = String(format: "%05d.jpg", c * perClass + i)
                try FileIO.writeAtomically("\(dir)/train/\(cls)/\(name)", bytes(8192 + Int(next() % (152 << 10))))
                labels += "train/\(cls)/\(name),\(c)\n"
            }
        }
        try FileIO.writeAtomically(dir + "/labels.csv", labels)
        try FileIO.makeDirectories(dir + "/shards")
        for s in 0..<2 {
            var tar = TarWriter()
            for i in 0..<100 {
                let key = String(format: "%05d", s * 100 + i), label = Int(next() % UInt64(classes))
                try tar.append(name: key + ".jpg", bytes: bytes(40 << 10 + Int(next() % (40 << 10))))
                try tar.append(name: key + ".cls", bytes: Array("\(label)".utf8))
            }
            try FileIO.writeAtomically(String(format: "%@/shards/shard-%04d.tar", dir, s), tar.finish())
        }
        try FileIO.writeAtomically(done, "")
    }
}
