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
        // One connect timeout for the socket and the start-up together, as PostgresNIO's own path has.
        let deadline = NIODeadline.now() + core.options.connectTimeout
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
            established.options.connectTimeout = max(deadline - .now(), .milliseconds(1))
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
    /// connection nothing was heard on for ``idle``, every ``interval``; and once nothing has been
    /// heard for ``silenceLimit`` while a probe or a query goes unanswered, the kernel ends the
    /// connection (`TCP_USER_TIMEOUT`; on Linux it also decides when probing gives up). A live
    /// server's kernel answers the probes however long its statement runs, so neither cuts a slow
    /// statement short (the server's `statement_timeout` does that). The same values go to the server
    /// (`tcp_keepalives_idle`, `tcp_keepalives_interval`, `tcp_user_timeout`), so a session whose
    /// client vanished is ended, and its locks released, about as soon rather than after the
    /// system's two hours. The defaults give up on a vanished host within about a minute; without
    /// them a wait for a reply from one lasts for ever, and a query sent to one ≈ 15 minutes (the
    /// kernel's retransmissions).
    public struct TCPKeepAlive: Sendable, Equatable {
        public var idle: Duration = .seconds(30)
        public var interval: Duration = .seconds(10)
        public var silenceLimit: Duration = .seconds(60)

        public init() {}

        func validate() throws(StoreError) {
            // The kernel's bounds: whole seconds from 1 to 32,767 (TCP_KEEPIDLE, TCP_KEEPINTVL), and
            // milliseconds in a C int (TCP_USER_TIMEOUT; a day here).
            for (name, value) in [("postgresKeepAlive.idle", idle), ("postgresKeepAlive.interval", interval)] {
                guard value >= .seconds(1), value <= .seconds(32_767), value.components.attoseconds == 0 else {
                    throw StoreError(.misconfigured, "\(name) must be whole seconds, from 1 to 32,767")
                }
            }
            guard silenceLimit >= .seconds(1), silenceLimit <= .seconds(86_400) else {
                throw StoreError(.misconfigured, "postgresKeepAlive.silenceLimit must be between 1 second and a day")
            }
        }

        var idleSeconds: Int { Int(idle.components.seconds) }
        var intervalSeconds: Int { Int(interval.components.seconds) }
        var silenceMilliseconds: Int { Int(silenceLimit / .milliseconds(1)) }
        /// TCP_KEEPCNT, for kernels that count probes rather than time: as many as fit in the silence limit.
        var probes: Int { min(127, max(1, (silenceMilliseconds / 1_000 - idleSeconds + intervalSeconds - 1) / intervalSeconds)) }

        /// The server's side of the same limits, sent with each connection's start-up.
        var serverParameters: [(String, String)] {
            [("tcp_keepalives_idle", String(idleSeconds)), ("tcp_keepalives_interval", String(intervalSeconds)),
             ("tcp_keepalives_count", String(probes)), ("tcp_user_timeout", String(silenceMilliseconds))]
        }

        /// `bootstrap` setting these on the sockets it opens (on Linux; elsewhere keepalive alone,
        /// with the system's timings).
        func options(_ bootstrap: ClientBootstrap) -> ClientBootstrap {
            let keepingAlive = bootstrap.channelOption(.socketOption(.so_keepalive), value: 1)
            #if os(Linux)
            func option(_ name: CInt) -> ChannelOptions.Types.SocketOption {
                ChannelOptions.Types.SocketOption(level: .tcp, name: NIOBSDSocket.Option(rawValue: name))
            }
            return keepingAlive
                .channelOption(option(TCP_KEEPIDLE), value: SocketOptionValue(idleSeconds))
                .channelOption(option(TCP_KEEPINTVL), value: SocketOptionValue(intervalSeconds))
                .channelOption(option(TCP_KEEPCNT), value: SocketOptionValue(probes))
                .channelOption(option(TCP_USER_TIMEOUT), value: SocketOptionValue(silenceMilliseconds))
            #else
            return keepingAlive
            #endif
        }
    }
}
