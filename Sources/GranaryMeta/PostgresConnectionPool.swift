#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import Logging
import NIOCore
import NIOPosix
import PostgresNIO
import Synchronization

/// A small fixed-size set of PostgreSQL connections for one `PostgresMetaStore`, on its own
/// event-loop group, handed to one caller at a time.
///
/// Why its own group and blocking callers: `MetaStore` is synchronous, so each call blocks its
/// thread until the server answers. Doing that on a shared group (postgres-nio's default, or one
/// the process's servers use) could park one of that group's threads waiting for I/O that only
/// that very thread can perform — a deadlock. Here the group's single thread does nothing but the
/// connections' I/O, and only callers' threads ever wait.
///
/// Guarantees: at most `capacity` connections exist; a caller waits for a free one rather than
/// sharing one, so concurrent callers run concurrently up to `capacity`; a connection that failed
/// (server restart, network loss) is closed and never handed out again, and the next caller gets a
/// fresh one (reconnecting); connecting fails within the connect timeout with `.unreachable` or
/// `.authenticationFailed` naming the URL without its password.
///
/// `Sendable` without `@unchecked`: its mutable state (idle connections) is inside a `Mutex`,
/// the rest is immutable or itself thread-safe (`DispatchSemaphore`, the event-loop group).
final class PostgresConnectionPool: Sendable {
    let location: PostgresLocation
    let capacity: Int
    let connectTimeout: Double
    let logger: Logger
    private let group: MultiThreadedEventLoopGroup
    private let configuration: PostgresConnection.Configuration
    /// One permit per connection that may exist; taken while a caller holds a connection.
    private let permits: DispatchSemaphore
    private let idle = Mutex<[PostgresConnection]>([])
    private let nextID = Atomic<Int>(1)

    init(location: PostgresLocation, capacity: Int, connectTimeout: Double) {
        self.location = location
        self.capacity = max(1, capacity)
        self.connectTimeout = connectTimeout
        // postgres-nio logs through swift-log; the store reports failures as MetaErrors instead,
        // so its logging stays off rather than land in whatever handler the process set up.
        self.logger = Logger(label: "granary.meta.postgres", factory: { _ in SwiftLogNoOpLogHandler() })
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var config = PostgresConnection.Configuration(host: location.host, port: location.port, username: location.user,
                                                      password: location.password, database: location.database, tls: .disable)
        config.options.connectTimeout = .milliseconds(Int64(connectTimeout * 1000))
        config.options.additionalStartupParameters = [("application_name", "granary")]
        self.configuration = config
        self.permits = DispatchSemaphore(value: self.capacity)
    }

    deinit {
        // No caller can hold a connection now (each holds the store, which holds the pool). Keep
        // each connection alive until its close completes: postgres-nio asserts a connection is
        // closed before it is freed.
        let connections = idle.withLock { list in
            let all = list
            list.removeAll()
            return all
        }
        let group = self.group
        let closes = connections.map { c in c.close().always { _ in _ = c } }
        EventLoopFuture.andAllComplete(closes, on: group.next()).whenComplete { _ in
            DispatchQueue.global().async { group.shutdownGracefully { _ in } }
        }
    }

    /// A connection for the caller's exclusive use until `release`; blocks while all are in use.
    func acquire() throws(MetaError) -> PostgresConnection {
        permits.wait()
        while let c = idle.withLock({ $0.popLast() }) {
            if !c.isClosed { return c }
            discard(c)
        }
        do {
            return try connect()
        } catch {
            permits.signal()
            throw error
        }
    }

    /// Gives a connection back; one that may be broken or in an unknown state is closed instead.
    func release(_ connection: PostgresConnection, reusable: Bool) {
        if reusable && !connection.isClosed {
            idle.withLock { $0.append(connection) }
        } else {
            discard(connection)
        }
        permits.signal()
    }

    private func discard(_ connection: PostgresConnection) {
        _ = try? connection.close().wait()
    }

    /// A new connection, logged in.
    private func connect() throws(MetaError) -> PostgresConnection {
        let id = nextID.wrappingAdd(1, ordering: .relaxed).oldValue
        do {
            return try PostgresConnection.connect(on: group.next(), configuration: configuration, id: id, logger: logger).wait()
        } catch {
            throw connectError(error)
        }
    }

    /// What went wrong while connecting, as the operator needs to read it.
    func connectError(_ error: any Error) -> MetaError {
        let shown = location.redacted
        let target = "\(location.host):\(location.port)"
        guard let e = error as? PSQLError else {
            return .unreachable(location: shown, reason: Self.describe(error, target: target))
        }
        if let info = e.serverInfo {
            let state = info[.sqlState] ?? ""
            let message = info[.message] ?? "error"
            if state.hasPrefix("28") {
                return .authenticationFailed(location: shown, reason: "\(message) (SQLSTATE \(state))")
            }
            if state == "57P03" || state.hasPrefix("08") {
                return .unreachable(location: shown, reason: "\(message) (SQLSTATE \(state))")
            }
            if state == "3D000" {
                return .database(path: shown, reason: "\(message) (SQLSTATE \(state)): create it first (CREATE DATABASE)")
            }
            return .database(path: shown, reason: "\(message) (SQLSTATE \(state))")
        }
        switch e.code {
        case .authMechanismRequiresPassword:
            return .authenticationFailed(location: shown, reason: "the server asks for a password and the URL gives none")
        case .unsupportedAuthMechanism, .saslError:
            return .authenticationFailed(location: shown, reason: "the login failed (\(e.code))")
        default:
            if let underlying = e.underlying {
                return .unreachable(location: shown, reason: Self.describe(underlying, target: target))
            }
            return .unreachable(location: shown, reason: "\(e.code) while connecting to \(target)")
        }
    }

    private static func describe(_ error: any Error, target: String) -> String {
        if case let ChannelError.connectTimeout(amount) = error {
            return "no answer from \(target) within \(Double(amount.nanoseconds) / 1e9) s (connect timeout)"
        }
        if let e = error as? NIOConnectionError {
            if let dns = e.dnsAError ?? e.dnsAAAAError {
                return "the host name \(e.host) does not resolve (\(dns))"
            }
            for failure in e.connectionErrors {
                if let io = failure.error as? IOError, io.errnoCode == ECONNREFUSED {
                    return "connection refused by \(target): is PostgreSQL running and listening there?"
                }
                if case ChannelError.connectTimeout = failure.error {
                    return "no answer from \(target) within the connect timeout"
                }
            }
            return "cannot connect to \(target): \(e)"
        }
        return "cannot connect to \(target): \(error)"
    }
}
