import AsyncKit
#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOCore
import NIOPosix
import PostgresKit

/// Opens PostgreSQL connections as PostgresKit's own source does, over a TCP socket with
/// ``StoreConfiguration/TCPKeepAlive`` set on it — so that a server whose host vanished without
/// closing the connection (a failover that moved its address, a machine lost) ends the wait of
/// whatever was waiting on it with an error, instead of holding it (and the checkpoints and guild
/// loads queued behind it) for ever. A Unix-domain socket needs none: its server is on this machine.
struct KeepAlivePostgresSource: ConnectionPoolSource {
    let sqlConfiguration: SQLPostgresConfiguration
    let keepAlive: StoreConfiguration.TCPKeepAlive

    func makeConnection(logger: Logger, on eventLoop: any EventLoop) -> EventLoopFuture<PostgresConnection> {
        let core = sqlConfiguration.coreConfiguration
        guard let host = core.host, let port = core.port else {
            return PostgresConnectionSource(sqlConfiguration: sqlConfiguration).makeConnection(logger: logger, on: eventLoop)
        }
        return keepAlive.options(
            ClientBootstrap(group: eventLoop)
                .connectTimeout(core.options.connectTimeout)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
        )
        .connect(host: host, port: port)
        .flatMapErrorThrowing { error in throw PostgresUnreachable(host: host, port: port, underlying: error) }
        .flatMap { channel in
            // The same start-up (TLS, authentication, parameters, search path) on the socket opened here.
            var established = PostgresConnection.Configuration(
                establishedChannel: channel, tls: core.tls, username: core.username, password: core.password, database: core.database
            )
            established.options = core.options
            if established.options.tlsServerName == nil, !Self.isIPAddress(host) {
                // What PostgresNIO names for SNI when it opens the socket itself; never an address.
                established.options.tlsServerName = host
            }
            var configuration = sqlConfiguration
            configuration.coreConfiguration = established
            return PostgresConnectionSource(sqlConfiguration: configuration).makeConnection(logger: logger, on: eventLoop)
                .flatMapErrorThrowing { error in
                    channel.close(promise: nil)
                    throw error
                }
        }
    }

    private static func isIPAddress(_ host: String) -> Bool {
        (try? SocketAddress(ipAddress: host, port: 0)) != nil
    }
}

/// The TCP connection to PostgreSQL could not be made.
struct PostgresUnreachable: Error, CustomStringConvertible {
    let host: String
    let port: Int
    let underlying: any Error

    var description: String { "cannot connect to PostgreSQL at \(host):\(port): \(underlying)" }
}

extension StoreConfiguration {
    /// How a PostgreSQL connection notices that the server's host is gone: TCP keepalive probes a
    /// connection nothing was heard on for ``idle``, every ``interval``, and ends it after ``probes``
    /// unanswered; and data (a query) unacknowledged for ``unacknowledgedLimit``
    /// (`TCP_USER_TIMEOUT`) ends it too. A live server's kernel answers the probes however long its
    /// statement runs, so neither cuts a slow statement short (the server's `statement_timeout`
    /// does that). The defaults give up on a vanished host within about a minute; without them a
    /// wait for a reply from one lasts for ever, a query sent to one ≈ 15 minutes (the kernel's
    /// retransmissions).
    public struct TCPKeepAlive: Sendable, Equatable {
        public var idle: Duration = .seconds(30)
        public var interval: Duration = .seconds(10)
        public var probes = 3
        public var unacknowledgedLimit: Duration = .seconds(60)

        public init() {}

        func validate() throws(StoreError) {
            // The kernel's own bounds: whole seconds up to 32,767 (TCP_KEEPIDLE, TCP_KEEPINTVL),
            // 1–127 probes (TCP_KEEPCNT), milliseconds in a C int (TCP_USER_TIMEOUT).
            for (name, value) in [("postgresKeepAlive.idle", idle), ("postgresKeepAlive.interval", interval)] {
                guard value >= .seconds(1), value <= .seconds(32_767) else {
                    throw StoreError(.misconfigured, "\(name) must be between 1 second and 32,767 seconds")
                }
            }
            guard (1...127).contains(probes) else { throw StoreError(.misconfigured, "postgresKeepAlive.probes must be between 1 and 127") }
            guard unacknowledgedLimit >= .milliseconds(1), unacknowledgedLimit <= .seconds(86_400) else {
                throw StoreError(.misconfigured, "postgresKeepAlive.unacknowledgedLimit must be between 1 ms and a day")
            }
        }

        /// `bootstrap` setting these on the sockets it opens.
        func options(_ bootstrap: ClientBootstrap) -> ClientBootstrap {
            func option(_ name: CInt) -> ChannelOptions.Types.SocketOption {
                ChannelOptions.Types.SocketOption(level: .tcp, name: NIOBSDSocket.Option(rawValue: name))
            }
            func seconds(_ value: Duration) -> SocketOptionValue { SocketOptionValue(value.components.seconds) }
            let milliseconds = SocketOptionValue(unacknowledgedLimit / .milliseconds(1))
            return bootstrap
                .channelOption(.socketOption(.so_keepalive), value: 1)
                .channelOption(option(TCP_KEEPIDLE), value: seconds(idle))
                .channelOption(option(TCP_KEEPINTVL), value: seconds(interval))
                .channelOption(option(TCP_KEEPCNT), value: SocketOptionValue(probes))
                .channelOption(option(TCP_USER_TIMEOUT), value: milliseconds)
        }
    }
}
