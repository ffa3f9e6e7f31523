/// A drive's SMART attributes as `smartctl --json` reported them: the raw value of each ATA
/// attribute by id (5, 187, 188, 197, 198 are the failure signals that matter most), the
/// temperature, and the device they were read from. NVMe health-log fields are mapped onto the
/// nearest ATA ids (media errors onto 187, temperature onto 194, power-on hours onto 9).
public struct SmartReading: Codable, Sendable, Equatable {
    public var device: String
    public var model: String?
    public var serial: String?
    public var passed: Bool?
    public var temperatureC: Double?
    public var raw: [Int: Double]

    public init(device: String, model: String? = nil, serial: String? = nil, passed: Bool? = nil,
                temperatureC: Double? = nil, raw: [Int: Double] = [:]) {
        self.device = device
        self.model = model
        self.serial = serial
        self.passed = passed
        self.temperatureC = temperatureC
        self.raw = raw
    }
}
