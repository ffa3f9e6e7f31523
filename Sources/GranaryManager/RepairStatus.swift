/// What the manager's repair service is doing and has done: the rebuild pass in progress (stripes
/// moved off failed, evicted or long-down drives, shrunk when failure domains are short, expanded
/// when they return), scrub and garbage collection. `granary rebuild status` and `granary scrub`
/// print it; the manager saves it in its metadata store, so counters and the scrub's position
/// survive a restart.
///
/// Guarantees: `pass.stripesDone + pass.stripesFailed ≤ pass.stripesTotal` while a pass runs;
/// byte counts are fragment bytes actually read or written; times are seconds since the epoch.
public struct RepairStatus: Codable, Sendable, Equatable {
    /// One rebuild or expand pass over the stripes that need it.
    public struct Pass: Codable, Sendable, Equatable {
        /// "rebuild" (fragments on retired drives) or "expand" (shrunk stripes back to full width).
        public var kind: String
        public var startedAt: Double
        public var updatedAt: Double
        public var finishedAt: Double?
        public var stripesTotal: Int
        public var stripesDone = 0
        public var stripesFailed = 0
        /// Of `stripesDone`: rebuilt at full width, re-encoded narrower, re-encoded wider.
        public var rebuilt = 0
        public var shrunk = 0
        public var expanded = 0
        public var bytesRead: Int64 = 0
        public var bytesWritten: Int64 = 0
        /// Seconds spent moving data (not waiting for the next scan).
        public var busySeconds = 0.0

        public init(kind: String, startedAt: Double, stripesTotal: Int) {
            self.kind = kind
            self.startedAt = startedAt
            self.updatedAt = startedAt
            self.stripesTotal = stripesTotal
        }

        /// Fragment bytes written per second of work, MB/s.
        public var writeMBps: Double { busySeconds > 0 ? Double(bytesWritten) / busySeconds / 1e6 : 0 }
    }

    /// One scrub pass: every stripe's fragments read and checked.
    public struct Scrub: Codable, Sendable, Equatable {
        public var running = false
        /// An operator asked for a pass (`granary scrub`); it starts at the next check.
        public var requested = false
        public var startedAt: Double?
        public var finishedAt: Double?
        /// Stripes with ids up to this one are done in the current pass.
        public var cursor: UInt64 = 0
        public var stripesTotal = 0
        public var stripesChecked = 0
        public var fragmentsChecked = 0
        /// Fragments that failed their checksum or length check, or were missing on an up drive.
        public var corrupt = 0
        /// Fragments on drives that were down while scrubbed (not errors; rebuild handles them).
        public var unavailable = 0
        public var repaired = 0
        /// Stripes that could not be repaired (fewer than k good fragments, or no drive to write to).
        public var unrepairable = 0
        public var bytesRead: Int64 = 0
        /// What scrub found, newest last (at most 100).
        public var findings: [String] = []

        public init() {}
    }

    /// Garbage collection totals since the store was created.
    public struct Collection: Codable, Sendable, Equatable {
        public var lastRunAt: Double?
        /// Stripes of deleted or replaced files whose fragments were deleted.
        public var stripesCollected = 0
        /// Chunks of writes that never committed (a writer died).
        public var orphanChunksDeleted = 0
        /// Chunks a rebuild, shrink, expand or repair replaced, deleted late (their drive was down).
        public var staleChunksDeleted = 0

        public init() {}
    }

    /// "idle", "rebuilding", "expanding", or "waiting" (stripes need work the cluster cannot do yet).
    public var state = "idle"
    /// Why stripes that need work are waiting (too few drives, a node not yet out), if they are.
    public var waitingFor: String?
    /// Drives whose fragments are being moved off: failed, drained, or down past `down_out_ms`.
    public var retiredDrives: [String] = []
    /// Stripes with a fragment on a retired drive, and shrunk stripes, at the last scan.
    public var degradedStripes = 0
    public var shrunkStripes = 0
    public var pass: Pass?
    public var lastPass: Pass?
    /// The configured rebuild limit, MB/s.
    public var rebuildLimitMBps = 0
    /// Stripes rebuilt, shrunk and expanded since the store was created.
    public var totalRebuilt = 0
    public var totalShrunk = 0
    public var totalExpanded = 0
    public var scrub = Scrub()
    public var collection = Collection()
    /// Recent failures, newest last (at most 50), each naming the stripe and cause.
    public var problems: [String] = []

    public init() {}

    /// Appends to a bounded list of messages.
    static func note(_ list: inout [String], _ message: String, limit: Int) {
        list.append(message)
        if list.count > limit { list.removeFirst(list.count - limit) }
    }
}
