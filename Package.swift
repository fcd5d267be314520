// swift-tools-version: 6.2
import PackageDescription

/// One set of Swift settings for every target: Swift 6 language mode everywhere.
let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "Kamii",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "kamii", targets: ["kamii"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/vapor/sql-kit", from: "3.36.0"),
        .package(url: "https://github.com/vapor/sqlite-kit", from: "4.5.2"),
        .package(url: "https://github.com/vapor/postgres-kit", from: "2.17.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        // System libraries (Debian: zlib1g-dev, libzstd-dev, libhiredis-dev, libisal-dev).
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CIsal", pkgConfig: "libisal", providers: [.apt(["libisal-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CHiredis", pkgConfig: "hiredis", providers: [.apt(["libhiredis-dev"])]),
        // The kamii executable's allocation functions, counting for `kamii bench-capture`.
        .target(name: "CAllocationCounter"),
        // Cache hints (prefetch) for tables whose slots are known before they are used.
        .target(name: "CMemoryHints"),
        .target(name: "CStringScan"),
        // The zlib-stream decoder (Discord's sync-flushed payloads, decoded in place).
        .target(name: "CDeflateDecoder"),

        .target(name: "DiscordModels", dependencies: ["CStringScan"], swiftSettings: swiftSettings),
        .target(
            name: "DiscordGateway",
            dependencies: [
                "CDeflateDecoder", "CZstd", "DiscordModels",
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"), .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "DiscordREST",
            dependencies: ["DiscordModels", .product(name: "AsyncHTTPClient", package: "async-http-client")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "DiscordSimulator",
            dependencies: [
                "CZlib", "CZstd", "CIsal", "CMemoryHints", "DiscordModels", "DiscordGateway",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "KamiiRedis",
            dependencies: ["CHiredis", .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "KamiiShards",
            dependencies: [
                "DiscordGateway", "DiscordREST", "DiscordModels", "KamiiRedis",
                .product(name: "Logging", package: "swift-log"), .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "KamiiStore",
            dependencies: [
                "DiscordModels",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "SQLiteKit", package: "sqlite-kit"),
                .product(name: "PostgresKit", package: "postgres-kit"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "KamiiCore",
            dependencies: ["DiscordModels", "DiscordGateway", "KamiiStore", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "KamiiStats",
            dependencies: ["KamiiCore", "KamiiRedis", "KamiiStore", "DiscordModels", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "KamiiRewards",
            dependencies: ["KamiiCore", "KamiiStats", "DiscordREST", "DiscordModels", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "kamii",
            dependencies: [
                "DiscordGateway", "DiscordModels", "DiscordREST", "DiscordSimulator", "KamiiCore", "KamiiRedis", "KamiiRewards", "KamiiShards",
                "KamiiStats", "KamiiStore", "CAllocationCounter",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),

        .testTarget(name: "DiscordModelsTests", dependencies: ["DiscordModels"], swiftSettings: swiftSettings),
        .testTarget(
            name: "DiscordGatewayTests",
            dependencies: [
                "DiscordGateway", "DiscordModels", "DiscordSimulator", "KamiiTestSupport", "CZlib", "CZstd",
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ],
            exclude: ["Fixtures"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "DiscordSimulatorTests",
            dependencies: [
                "DiscordSimulator", "DiscordGateway", "DiscordModels", "KamiiTestSupport",
                .product(name: "NIOEmbedded", package: "swift-nio"), .product(name: "NIOWebSocket", package: "swift-nio"),
            ],
            exclude: ["Clients"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "DiscordRESTTests", dependencies: ["DiscordREST", "DiscordSimulator", "DiscordModels"], swiftSettings: swiftSettings),
        .target(
            name: "KamiiTestSupport",
            dependencies: [
                "KamiiRedis", "KamiiCore",
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"), .product(name: "NIOWebSocket", package: "swift-nio"),
            ],
            path: "Tests/KamiiTestSupport", swiftSettings: swiftSettings),
        .testTarget(
            name: "KamiiCoreTests",
            dependencies: [
                "KamiiCore", "KamiiStore", "DiscordModels", "DiscordGateway", "DiscordSimulator", "KamiiTestSupport",
                .product(name: "SQLKit", package: "sql-kit"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "KamiiStatsTests",
            dependencies: ["KamiiStats", "KamiiCore", "KamiiRedis", "KamiiStore", "DiscordModels", "DiscordGateway", "KamiiTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "HotPathTests",
            dependencies: [
                "KamiiCore", "KamiiStats", "KamiiShards", "KamiiStore", "KamiiRedis", "KamiiTestSupport", "DiscordSimulator",
                "DiscordGateway", "DiscordREST", "DiscordModels",
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "KamiiRewardsTests",
            dependencies: [
                "KamiiRewards", "KamiiCore", "KamiiStats", "KamiiStore", "KamiiRedis", "KamiiTestSupport", "DiscordREST", "DiscordSimulator",
                "DiscordModels",
            ],
            swiftSettings: swiftSettings),
        .testTarget(name: "KamiiRedisTests", dependencies: ["KamiiRedis", "KamiiTestSupport", "CAllocationCounter", .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio")], swiftSettings: swiftSettings),
        .testTarget(
            name: "KamiiShardsTests",
            dependencies: ["KamiiShards", "KamiiRedis", "KamiiTestSupport", "DiscordGateway", "DiscordREST", "DiscordSimulator", "DiscordModels"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "KamiiStoreTests", dependencies: ["KamiiStore", "DiscordModels", "KamiiTestSupport"], exclude: ["Helpers"], swiftSettings: swiftSettings),
        .testTarget(
            name: "KamiiCLITests",
            dependencies: [
                "kamii", "CAllocationCounter", "DiscordGateway", "DiscordREST", "DiscordSimulator", "KamiiRedis", "KamiiStats", "KamiiStore", "KamiiTestSupport",
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings),
        .testTarget(name: "SystemLibraryTests", dependencies: ["CHiredis", "CZlib", "CZstd"], swiftSettings: swiftSettings),

        // Benchmarks: `swift package benchmark` (ordo-one/benchmark) and `ops/bench`.
        .target(
            name: "CInflateBaseline",
            dependencies: ["CZlib", "CZstd"],
            path: "Benchmarks/CInflateBaseline",
            cSettings: [.unsafeFlags(["-O2"])],
            linkerSettings: [.linkedLibrary("z"), .linkedLibrary("zstd")]
        ),
        .target(name: "BenchmarkSupport", dependencies: ["DiscordSimulator"], path: "Benchmarks/BenchmarkSupport", swiftSettings: swiftSettings),
        .executableTarget(
            name: "InflateBenchmarks",
            dependencies: [
                "BenchmarkSupport", "CInflateBaseline", "DiscordGateway", "DiscordSimulator",
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/InflateBenchmarks",
            swiftSettings: swiftSettings,
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "SimulatorBenchmarks",
            dependencies: [
                "BenchmarkSupport", "DiscordSimulator", "DiscordGateway", .product(name: "Benchmark", package: "benchmark"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"), .product(name: "NIOWebSocket", package: "swift-nio"),
            ],
            path: "Benchmarks/SimulatorBenchmarks",
            swiftSettings: swiftSettings,
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "RESTBenchmarks",
            dependencies: ["DiscordREST", "DiscordSimulator", "DiscordModels", .product(name: "Benchmark", package: "benchmark")],
            path: "Benchmarks/RESTBenchmarks",
            swiftSettings: swiftSettings,
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "ShardBenchmarks",
            dependencies: [
                "BenchmarkSupport", "KamiiShards", "KamiiRedis", "DiscordGateway", "DiscordREST", "DiscordSimulator",
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/ShardBenchmarks",
            swiftSettings: swiftSettings,
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "HotPathBenchmarks",
            dependencies: ["BenchmarkSupport", "KamiiCore", "DiscordGateway", "DiscordSimulator", .product(name: "Benchmark", package: "benchmark")],
            path: "Benchmarks/HotPathBenchmarks",
            swiftSettings: swiftSettings,
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "StoreBenchmarks",
            dependencies: ["KamiiStore", "DiscordModels", .product(name: "Benchmark", package: "benchmark")],
            path: "Benchmarks/StoreBenchmarks",
            swiftSettings: swiftSettings,
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
