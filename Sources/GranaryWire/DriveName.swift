/// A drive name alone: the body of list-chunks.
public struct DriveName: WirePayload, Equatable {
    public static let messageType = MessageType.listChunks
    public var name: String

    public init(_ name: String) { self.name = name }

    public func encode(into w: inout WireWriter) { w.string(name) }

    public static func decode(from r: inout WireReader) throws(WireError) -> DriveName { DriveName(try r.driveName()) }
}
