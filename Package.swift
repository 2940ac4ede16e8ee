// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

// The two servers allocate through jemalloc (Debian's libjemalloc2, linked before libc so it serves every malloc in
// the process). With glibc's allocator, malloc, free and their consolidation took about a seventh of the API's CPU
// per answered event; jemalloc cut the API's CPU per answer by about 9% in the same benchmark.
let serverLinkerSettings: [LinkerSetting] = [.linkedLibrary("jemalloc", .when(platforms: [.linux]))]

let package = Package(
    name: "enablebot",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "enablebot-web", targets: ["enablebot-web"]),
        .executable(name: "enablebot-api", targets: ["enablebot-api"]),
        .executable(name: "enablebot", targets: ["enablebot"]),
        .executable(name: "enablebot-emulator", targets: ["enablebot-emulator"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
    ],
    targets: [
        // C libraries from Debian: a module map and a shim header each, nothing else.
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite"),
        .systemLibrary(name: "CLibPQ", path: "Sources/CLibPQ"),
        .systemLibrary(name: "COpenSSL", path: "Sources/COpenSSL"),
        .systemLibrary(name: "CCurl", path: "Sources/CCurl"),
        .systemLibrary(name: "CHiredis", path: "Sources/CHiredis"),

        .target(
            name: "EnableBotCore",
            dependencies: [
                "CSQLite", "CLibPQ", "COpenSSL", "CCurl", "CHiredis",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // What both Hummingbird services share: health and metrics routes, request logging, body limits.
        .target(
            name: "EnableBotHTTP",
            dependencies: [
                "EnableBotCore",
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "EnableBotAPI",
            dependencies: [
                "EnableBotCore", "EnableBotHTTP",
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "EnableBotWeb",
            dependencies: [
                "EnableBotCore", "EnableBotHTTP",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Mustache", package: "swift-mustache"),
            ],
            resources: [.copy("Templates"), .copy("Static")],
            swiftSettings: swiftSettings
        ),
        // A Slack stand-in for development and the end-to-end tests: workspaces, OAuth pages, the Web API methods
        // EnableBot calls, signed event delivery, a chat page. Knows nothing of the services it talks to.
        .target(
            name: "EnableBotEmulator",
            dependencies: [
                "EnableBotCore",
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(name: "enablebot-emulator", dependencies: ["EnableBotEmulator"], swiftSettings: swiftSettings),
        .executableTarget(
            name: "enablebot-web", dependencies: ["EnableBotWeb", "EnableBotHTTP"], swiftSettings: swiftSettings,
            linkerSettings: serverLinkerSettings
        ),
        .executableTarget(
            name: "enablebot-api", dependencies: ["EnableBotAPI", "EnableBotHTTP"], swiftSettings: swiftSettings,
            linkerSettings: serverLinkerSettings
        ),
        // The API benchmark's helper: seeds tenants, writes signed requests (benchmarks/api-ack.sh).
        .executableTarget(name: "enablebot-bench", dependencies: ["EnableBotCore", .product(name: "NIOConcurrencyHelpers", package: "swift-nio")], swiftSettings: swiftSettings),
        .executableTarget(
            name: "enablebot",
            dependencies: [
                "EnableBotCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),

        .target(
            name: "TestSupport",
            dependencies: [
                "EnableBotCore",
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            path: "Tests/TestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "EnableBotCoreTests",
            dependencies: ["EnableBotCore", "TestSupport"],
            resources: [.copy("Resources")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "EnableBotAPITests",
            dependencies: [
                "EnableBotAPI", "TestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "EnableBotEmulatorTests",
            dependencies: [
                "EnableBotEmulator", "TestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "EnableBotWebTests",
            dependencies: [
                "EnableBotWeb", "EnableBotAPI", "TestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
