import PostgresNIO

/// One parameter of a statement `PostgresMetaStore` sends, so SQL is written with `$1, $2…` and
/// values never spliced into the text. Every integer travels as `bigint` (the only integer type
/// the schema uses); `UInt64` values (stripe ids, versions, epochs) by bit pattern.
enum PostgresValue {
    case bigint(Int64)
    case bits(UInt64)
    case double(Double)
    case text(String)
    case bool(Bool)
    case texts([String])
    case bigints([Int64])
    case null

    static func int(_ v: Int) -> PostgresValue { .bigint(Int64(v)) }
    static func int(_ v: UInt32) -> PostgresValue { .bigint(Int64(v)) }
    static func optional(_ v: Int?) -> PostgresValue { v.map { .bigint(Int64($0)) } ?? .null }
    static func optional(_ v: Double?) -> PostgresValue { v.map { .double($0) } ?? .null }
    static func optional(_ v: String?) -> PostgresValue { v.map { .text($0) } ?? .null }

    static func bindings(_ values: [PostgresValue]) throws -> PostgresBindings {
        var b = PostgresBindings(capacity: values.count)
        for v in values {
            switch v {
            case let .bigint(x): b.append(x)
            case let .bits(x): b.append(Int64(bitPattern: x))
            case let .double(x): b.append(x)
            case let .text(x): b.append(x)
            case let .bool(x): b.append(x)
            case let .texts(x): b.append(x)
            case let .bigints(x): b.append(x)
            case .null: b.appendNull()
            }
        }
        return b
    }
}
