import GranaryCore
import Logging

/// How one of a node's drives is doing, as `ChunkStore.drives()` reports it: what the heartbeat
/// tells the manager about the drive.
///
/// Guarantees `usage` is present exactly when the drive is serving (ok or read-only), and that a
/// failed drive carries the error that took it out.
public struct DriveStatus: Sendable, Equatable {
    /// The drive's condition.
    public enum Condition: Sendable, Equatable {
        /// Serving reads and writes.
        case ok
        /// Serving reads only.
        case readOnly
        /// Serving nothing; `reason` is the error that took it out.
        case failed(reason: StorageError)
    }

    public var id: DriveID
    public var path: String
    public var state: Condition
    /// Space and chunk figures; nil when the drive has failed.
    public var usage: DriveUsage?

    public init(id: DriveID, path: String, state: Condition, usage: DriveUsage?) {
        self.id = id
        self.path = path
        self.state = state
        self.usage = usage
    }

    /// The status in the form the cluster map records it (heartbeats carry this).
    public var info: DriveInfo {
        let driveState: DriveState
        let problem: String?
        switch state {
        case .ok: (driveState, problem) = (.up, nil)
        case .readOnly: (driveState, problem) = (.readOnly, "read-only file system")
        case .failed(let reason): (driveState, problem) = (.failed, reason.description)
        }
        return DriveInfo(id: id, state: driveState, capacityBytes: usage?.capacityBytes ?? 0,
                         usedBytes: usage?.usedBytes ?? 0, freeBytes: usage?.freeBytes ?? 0,
                         chunkCount: usage?.chunkCount ?? 0, problem: problem)
    }
}

/// The drives of one storage node, by name.
///
/// Guarantees one bad drive never takes the node down: a drive that fails to open is kept, as
/// failed with its error, so `drives()` reports it and requests for it get `.driveUnavailable`
/// while the other drives serve as usual. The set of drives is fixed at init (a node restarts to
/// change it), so lookups take no lock and any number of threads may use the store at once.
public final class ChunkStore: Sendable {
    public let node: NodeID

    private enum Slot: Sendable {
        case open(Drive)
        case failed(DriveID, path: String, StorageError)
    }

    private let names: [String]
    private let slots: [String: Slot]

    /// Opens every drive. Throws only for a configuration mistake (`.invalidDriveName` for a name
    /// that is not a valid drive name or is used twice); a drive that cannot be opened is not one.
    public init(node: NodeID, drives: [(name: String, path: String)],
                logger: Logger = Logger(label: "granary.storage")) throws(StorageError) {
        var names: [String] = []
        var slots: [String: Slot] = [:]
        for (name, path) in drives {
            guard let id = DriveID(node: node, name: name), slots[name] == nil else {
                throw .invalidDriveName(node: node, name: name)
            }
            do throws(StorageError) {
                slots[name] = .open(try Drive.open(id: id, path: path, logger: logger))
            } catch {
                logger.error("drive \(id) at \(path) failed to open: \(error)")
                slots[name] = .failed(id, path: path, error)
            }
            names.append(name)
        }
        self.node = node
        self.names = names
        self.slots = slots
    }

    /// The drive named `name`, if it opened.
    public func drive(named name: String) throws(StorageError) -> Drive {
        switch slots[name] {
        case .open(let drive): return drive
        case .failed(let id, _, let error): throw .driveUnavailable(drive: id, reason: error)
        case nil: throw .unknownDrive(node: node, name: name)
        }
    }

    /// The drives that opened, in configuration order.
    public func openDrives() -> [Drive] {
        names.compactMap { if case .open(let drive) = slots[$0] { drive } else { nil } }
    }

    /// The status of every drive, in configuration order. Computes usage, which scans each drive's
    /// chunks: call it from the heartbeat task, not per request. A drive whose usage cannot be read
    /// (its directory vanished, or listing it fails) is reported failed with that error.
    public func drives() -> [DriveStatus] {
        names.compactMap { name -> DriveStatus? in
            switch slots[name] {
            case .open(let drive):
                do throws(StorageError) {
                    let usage = try drive.usage()
                    return DriveStatus(id: drive.id, path: drive.path, state: drive.isReadOnly ? .readOnly : .ok, usage: usage)
                } catch {
                    return DriveStatus(id: drive.id, path: drive.path, state: .failed(reason: error), usage: nil)
                }
            case .failed(let id, let path, let error):
                return DriveStatus(id: id, path: path, state: .failed(reason: error), usage: nil)
            case nil:
                return nil
            }
        }
    }
}
