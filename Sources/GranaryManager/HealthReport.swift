/// The health monitor's view of the cluster: every drive, the recent health changes, and the
/// policy in force.
public struct HealthReport: Codable, Sendable, Equatable {
    public var drives: [DriveHealthReport]
    public var events: [HealthEvent]
    public var autoEvict: Bool
    public var evictAfterS: Int
    public var maxEvictionsPerHour: Int
    public var evictionsLastHour: Int
    public var faultInjection: Bool
    /// How the failure predictor was trained (the shipped model says it is synthetic).
    public var model: String

    public init(drives: [DriveHealthReport], events: [HealthEvent], autoEvict: Bool, evictAfterS: Int, maxEvictionsPerHour: Int,
                evictionsLastHour: Int, faultInjection: Bool, model: String) {
        self.drives = drives
        self.events = events
        self.autoEvict = autoEvict
        self.evictAfterS = evictAfterS
        self.maxEvictionsPerHour = maxEvictionsPerHour
        self.evictionsLastHour = evictionsLastHour
        self.faultInjection = faultInjection
        self.model = model
    }
}
