import DiscordSimulator
@testable import kamii
import Foundation
import KamiiTestSupport
import NIOCore
import NIOPosix
import Testing

/// Gateway URLs that reach nothing, or reach Discord where only a simulator may be: said, not
/// retried in silence.
struct RunGatewayURLTests {
    /// A REST proxy (here a stand-in answering every request with one `/gateway/bot` body) whose
    /// answer sends the shards to Discord's own gateway: a shortened identify window is refused
    /// before any shard connects, though no URL the operator named is Discord's.
    @Test func aShortIdentifyWindowIsRefusedWhenGatewayBotNamesDiscord() async throws {
        let body = #"{"url":"wss://gateway.discord.gg","shards":1,"session_start_limit":{"total":1000,"remaining":1000,"reset_after":0,"max_concurrency":1}}"#
        let proxy = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { $0.pipeline.addHandler(OneAnswer(body: body)) }
            .bind(host: "127.0.0.1", port: 0).get()
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("KAMII_") }
        environment["KAMII_TOKEN"] = "a.b.c"
        environment["KAMII_API_URL"] = "http://127.0.0.1:\(proxy.localAddress?.port ?? 0)/api/v10"
        environment["KAMII_IDENTIFY_WINDOW_MS"] = "1000"
        environment["KAMII_SHARDS"] = "1"
        // Watched, with a deadline: without the check the process would go on to Discord's gateway.
        let kamii = try RunCommandTests.RunningKamii(["run"], environment: environment)
        try await kamii.waitFor("the window refused", timeout: .seconds(30)) {
            $0.contains("identify_window_ms below 5000") && $0.contains("wss://gateway.discord.gg")
        }
        try await waitUntil("the process ended", timeout: .seconds(10)) { !kamii.process.isRunning }
        try await proxy.close()
        #expect(kamii.process.terminationStatus != 0)
        #expect(!kamii.log.contains("a.b.c"), "the token is never printed")
    }

    /// A gateway nothing listens on: the shard says it cannot connect (the first time, then every
    /// tenth in a row), instead of only never being ready.
    @Test func aGatewayThatCannotBeReachedIsLogged() async throws {
        let server = try await SimulatorServer.start(SimulatorConfiguration(
            world: TrafficWorld(guildCount: 2, userCount: 20, seed: 101), dispatchesPerSecond: 0, identifyWindowMilliseconds: 300))
        // A port bound, then let go: nothing listens there.
        let closed = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        let port = closed.localAddress?.port ?? 1
        try await closed.close()
        var environment = RunCommandTests.environment(server)
        environment["KAMII_GATEWAY_URL"] = "ws://127.0.0.1:\(port)"
        environment["KAMII_SHARDS"] = "1"
        let kamii = try RunCommandTests.RunningKamii(["run"], environment: environment)
        try await kamii.waitFor("the failed connection logged", timeout: .seconds(30)) {
            $0.contains("shard 0 cannot connect to the gateway (1 in a row)")
        }
        #expect(await kamii.stop() == 0, "\(kamii.log)")
        #expect(server.record.connections.isEmpty)
        try await server.stop()
    }
}

/// Answers one HTTP request on each connection with `body` (as JSON), then closes it.
private final class OneAnswer: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let body: String

    init(body: String) { self.body = body }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var request = unwrapInboundIn(data)
        guard request.readString(length: request.readableBytes)?.contains("\r\n\r\n") == true else { return }
        let response = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: response))).whenComplete { _ in channel.close(promise: nil) }
    }
}

/// Gateway and API URLs that work are still taken: a trailing slash, a port, IPv6, any letter case
/// in the scheme, and the query Discord's documentation writes (Kamii asks for its own).
struct RunURLAcceptanceTests {
    @Test(arguments: [
        "wss://gateway.discord.gg", "wss://gateway.discord.gg/", "wss://gateway.discord.gg:443", "ws://[::1]:8401", "WSS://gateway.discord.gg",
        "wss://gateway.discord.gg/?v=10&encoding=json", "ws://127.0.0.1:8401/",
    ])
    func workingGatewayURLsAreTaken(_ text: String) throws {
        #expect(try RunConfiguration.checkedGatewayURL(text)?.host != nil)
    }

    @Test(arguments: ["https://discord.com/api/v10", "https://discord.com/api/v10/", "http://127.0.0.1:8400/api/v10", "HTTPS://discord.com/api/v10"])
    func workingAPIURLsAreTaken(_ text: String) throws {
        #expect(try RunConfiguration.checkedAPIURL(text).text.hasSuffix("/api/v10"))
    }

    /// A URL refused is repeated in the error only when it cannot hold a password; a base URL
    /// with a query (routes would follow it) is refused.
    @Test func refusedURLsDoNotRepeatCredentials() {
        for (text, check) in [
            ("wss://u:secret@gw.example", RunConfiguration.checkedGatewayURL), ("wss://u:secret@gw.example:44x", RunConfiguration.checkedGatewayURL),
        ] as [(String, (String?) throws -> URL?)] {
            #expect(throws: RunConfiguration.Invalid.self) { _ = try check(text) }
            do { _ = try check(text) } catch { #expect(!"\(error)".contains("secret"), "\(error)") }
        }
        for text in ["http://u:secret@discord.com/api/v10", "https://u:secret@proxy.example/api?x=1"] {
            do {
                _ = try RunConfiguration.checkedAPIURL(text)
                Issue.record("\(text) was taken")
            } catch {
                #expect(!"\(error)".contains("secret"), "\(error)")
            }
        }
        #expect(throws: RunConfiguration.Invalid.self) { _ = try RunConfiguration.checkedAPIURL("https://proxy.example/api/v10?x=1") }
    }
}
