import GranaryCore

/// Asks the manager to evict or rejoin a drive, with the operator's reason for the log.
public struct DriveHealthRequest: Codable, Sendable, Equatable {
    public var drive: DriveID
    public var reason: String?

    public init(drive: DriveID, reason: String? = nil) {
        self.drive = drive
        self.reason = reason
    }
}
