import ArgumentParser
import KamiiRedis
import KamiiStats

/// `--redis URL` and `--stats-prefix P`, shared by the commands that read or purge the live stats
/// `kamii run` keeps in Redis (`data export`, `data delete`, `trust`). Each is found as the bot finds
/// it: the option, else its `KAMII_*` variable, else the configuration file (`StoreLocations`).
struct LiveStatsOptions: ParsableArguments {
    @Option(help: "The Redis holding the live stats (default: $KAMII_REDIS_URL, then redis_url in the configuration file).")
    var redis: String?
    @Option(help: "The stats key prefix (default: $KAMII_STATS_PREFIX, then stats_prefix in the configuration file, then kamii).")
    var statsPrefix: String?

    /// Which setting named the Redis, for messages: an option, a variable or the file.
    func redisSource(_ locations: StoreLocations) -> String {
        redis != nil ? "--redis" : "KAMII_REDIS_URL or redis_url"
    }

    /// The stats keys under the prefix given, checked as `kamii run` checks it.
    func keys(_ locations: StoreLocations) throws -> StatsKeys {
        try DataCommand.statsKeys(statsPrefix ?? locations.statsPrefix)
    }

    /// A client of the Redis given, or nil when none is. The caller closes it.
    func openRedis(_ locations: StoreLocations) throws -> RedisClient? {
        guard let url = redis ?? locations.redisURL else { return nil }
        do {
            return RedisClient(configuration: try RedisConfiguration(url: url))
        } catch {
            throw ValidationError("\(redisSource(locations)): \(error)")
        }
    }

    /// Runs `body` with a client of the Redis given and closes it afterwards, whatever happens;
    /// nil, without running it, when no Redis is given.
    func withRedis<Result>(
        _ locations: StoreLocations, _ body: (RedisClient, StatsKeys) async throws -> Result
    ) async throws -> Result? {
        // The prefix is checked only when there is a Redis to read it in (a command run on SQL alone
        // does not care what it is).
        guard redis ?? locations.redisURL != nil else { return nil }
        let keys = try keys(locations)
        guard let client = try openRedis(locations) else { return nil }
        do {
            let result = try await body(client, keys)
            await client.close()
            return result
        } catch {
            await client.close()
            throw error
        }
    }
}
