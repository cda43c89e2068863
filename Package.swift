// swift-tools-version:6.1
import PackageDescription

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

let package = Package(
    name: "duplex",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Duplex", targets: ["Duplex"]),
        .library(name: "ChatRoom", targets: ["ChatRoom"]),
        .library(name: "SocketIO", targets: ["SocketIO"]),
        // Socket.IO across servers through PostgreSQL (its own product: only its users build postgres-nio).
        .library(name: "SocketIOPostgres", targets: ["SocketIOPostgres"]),
        .executable(name: "duplex", targets: ["DuplexCLI"]),
        .executable(name: "duplex-socketio-conformance", targets: ["SocketIOConformance"]),
        .executable(name: "duplex-autobahn-client", targets: ["AutobahnClient"]),
        // Framework integrations, one product each: users of one never build the other.
        .library(name: "DuplexHummingbird", targets: ["DuplexHummingbird"]),
        .library(name: "DuplexVapor", targets: ["DuplexVapor"]),
    ],
    // Opt-in traits keep the first build short (`swift run duplex chat`, README): without
    // them SwiftPM neither builds BoringSSL (TLS) nor Hummingbird or Vapor (34 packages
    // instead of 11 to resolve). Users enable one with `.package(url: …, from: …,
    // traits: ["TLS"])`; CI builds with all of them.
    traits: [
        .trait(name: "TLS", description: "wss:// for the client and TLS for the server (swift-nio-ssl, which compiles BoringSSL)"),
        .trait(name: "Hummingbird", description: "The DuplexHummingbird product: Duplex inside Hummingbird 2 apps"),
        .trait(name: "Vapor", description: "The DuplexVapor product: Duplex inside Vapor 4 apps"),
        .default(enabledTraits: []),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/vapor/sqlite-nio.git", from: "1.13.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/adam-fowler/compress-nio.git", from: "1.5.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        // `swift package generate-documentation` (DocC); a plugin, so nothing for users to build.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/vapor/vapor.git", from: "4.122.3"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
    ],
    targets: [
        // RFC 6455 WebSockets: frame codec, handshake, connection, server.
        .target(
            name: "Duplex",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOSSL", package: "swift-nio-ssl", condition: .when(traits: ["TLS"])),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ]
        ),
        // The chat room: room logic, history stores, the page.
        .target(
            name: "ChatRoom",
            dependencies: [
                "Duplex",
                "SocketIO",
                .product(name: "SQLiteNIO", package: "sqlite-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            resources: [.copy("Resources/index.html"), .copy("Resources/chat.js"), .copy("Resources/chat.css")]
        ),
        // Socket.IO v5 over Engine.IO v4: engine / parser / adapter / server.
        .target(
            name: "SocketIO",
            dependencies: [
                "Duplex",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // A small MessagePack codec (the cluster adapter's attachments).
        .target(
            name: "MessagePack",
            dependencies: [.product(name: "NIOCore", package: "swift-nio")]
        ),
        // The process's one connection to PostgreSQL (reconnection, re-LISTEN, bounded
        // send queue), shared by the Socket.IO cluster adapter and the chat on several nodes.
        .target(
            name: "DuplexPostgres",
            dependencies: [
                "Duplex",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The cluster adapter on PostgreSQL LISTEN/NOTIFY, wire-compatible with
        // Node's @socket.io/postgres-adapter.
        .target(
            name: "SocketIOPostgres",
            dependencies: [
                "Duplex", "DuplexPostgres", "SocketIO", "MessagePack",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Load generator behind `duplex bench`.
        .target(
            name: "DuplexBench",
            dependencies: [
                "Duplex",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]
        ),
        .executableTarget(
            name: "DuplexCLI",
            dependencies: [
                "Duplex", "ChatRoom", "SocketIO", "DuplexBench",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ]
        ),
        .executableTarget(
            name: "SocketIOConformance",
            dependencies: ["SocketIO", "SocketIOPostgres", .product(name: "NIOPosix", package: "swift-nio")]
        ),
        .executableTarget(
            name: "AutobahnClient",
            dependencies: ["Duplex"]
        ),
        // Duplex WebSocket routes and Socket.IO servers inside a Hummingbird 2 app.
        .target(
            name: "DuplexHummingbird",
            dependencies: [
                "Duplex", "SocketIO",
                .product(name: "Hummingbird", package: "hummingbird", condition: .when(traits: ["Hummingbird"])),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras", condition: .when(traits: ["Hummingbird"])),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras", condition: .when(traits: ["Hummingbird"])),
            ]
        ),
        // The same inside a Vapor 4 app.
        .target(
            name: "DuplexVapor",
            dependencies: [
                "Duplex", "SocketIO",
                .product(name: "Vapor", package: "vapor", condition: .when(traits: ["Vapor"])),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // Small real apps the framework tests run (Tests/frameworks); the README's snippets.
        .executableTarget(
            name: "HummingbirdApp",
            dependencies: ["DuplexHummingbird", "ChatRoom", .product(name: "Hummingbird", package: "hummingbird", condition: .when(traits: ["Hummingbird"]))],
            path: "Sources/Examples/HummingbirdApp"
        ),
        .executableTarget(
            name: "VaporApp",
            dependencies: ["DuplexVapor", .product(name: "Vapor", package: "vapor", condition: .when(traits: ["Vapor"]))],
            path: "Sources/Examples/VaporApp"
        ),
        .testTarget(name: "DuplexTests", dependencies: ["Duplex", .product(name: "NIOEmbedded", package: "swift-nio"), .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")]),
        .testTarget(name: "DuplexBenchTests", dependencies: ["DuplexBench", "ChatRoom"]),
        .testTarget(name: "ChatRoomTests", dependencies: ["ChatRoom", .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")]),
        .testTarget(name: "SocketIOTests", dependencies: ["SocketIO", .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")]),
        .testTarget(name: "MessagePackTests", dependencies: ["MessagePack"]),
        .testTarget(name: "SocketIOPostgresTests", dependencies: ["SocketIOPostgres", "SocketIO", "MessagePack", .product(name: "PostgresNIO", package: "postgres-nio")]),
    ]
)

// libFuzzer targets (docs/fuzzing.md), only when asked for: `DUPLEX_FUZZ=1 swift build
// --sanitize=fuzzer --sanitize=address`, as scripts/fuzz does. The normal build never sees them.
if getenv("DUPLEX_FUZZ") != nil {
    let nio: [Target.Dependency] = [
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOEmbedded", package: "swift-nio"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
    ]
    package.targets.append(.target(
        name: "FuzzSupport", dependencies: ["Duplex", "SocketIO", .product(name: "Logging", package: "swift-log")] + nio,
        path: "Sources/FuzzSupport"
    ))
    let fuzzTargets: [(name: String, dependencies: [Target.Dependency])] = [
        ("FuzzFrames", ["FuzzSupport", "Duplex"]),
        ("FuzzFramesDeflate", ["FuzzSupport", "Duplex", .product(name: "CompressNIO", package: "compress-nio")]),
        ("FuzzHTTP", ["FuzzSupport", "Duplex"]),
        ("FuzzEngineIO", ["FuzzSupport", "SocketIO"]),
        ("FuzzSocketIO", ["FuzzSupport", "SocketIO"]),
        ("FuzzJSON", ["FuzzSupport", "SocketIO"]),
        ("FuzzChatCommand", ["FuzzSupport", "ChatRoom"]),
        ("FuzzMessagePack", ["FuzzSupport", "MessagePack"]),
    ]
    for target in fuzzTargets {
        package.targets.append(.executableTarget(
            name: target.name, dependencies: target.dependencies + nio, path: "Sources/\(target.name)",
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        ))
    }
}
