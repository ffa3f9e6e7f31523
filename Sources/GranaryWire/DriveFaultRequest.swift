import GranaryCore

/// Asks for a fault on one drive (tests and drills): to a manager with the drive's full id, which
/// forwards it to the drive's node with the drive's name.
public struct DriveFaultRequest: Codable, Sendable, Equatable {
    public var drive: DriveID
    public var fault: FaultSpec

    public init(drive: DriveID, fault: FaultSpec) {
        self.drive = drive
        self.fault = fault
    }
}
