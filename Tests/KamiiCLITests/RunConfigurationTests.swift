@testable import kamii
import Testing

/// What `kamii run` reads from its environment, checked without starting it.
struct RunConfigurationTests {
    /// Discord's global REST limit is the bot's and its invalid-request limit the IP's: each process
    /// of a cluster keeps to its share; a single process keeps the whole.
    @Test func aClusterSharesDiscordsRESTLimits() throws {
        let single = try RunConfiguration.load(path: nil, environment: ["KAMII_TOKEN": "t"]).restConfiguration()
        #expect(single.globalLimit == 50 && single.invalidRequestLimit == 8_000)
        let cluster = try RunConfiguration.load(path: nil, environment: ["KAMII_TOKEN": "t", "KAMII_CLUSTER": "1/4"]).restConfiguration()
        #expect(cluster.globalLimit == 12 && cluster.invalidRequestLimit == 2_000)
    }
}
