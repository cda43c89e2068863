// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "duplex",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "Duplex", targets: ["Duplex"]),
        .library(name: "ChatRoom", targets: ["ChatRoom"]),
        .library(name: "SocketIO", targets: ["SocketIO"]),
        .executable(name: "duplex", targets: ["DuplexCLI"]),
        .executable(name: "duplex-socketio-conformance", targets: ["SocketIOConformance"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/vapor/sqlite-nio.git", from: "1.13.2"),
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
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // The chat room: room logic, history stores, the page.
        .target(
            name: "ChatRoom",
            dependencies: [
                "Duplex",
                "SocketIO",
                .product(name: "SQLiteNIO", package: "sqlite-nio"),
            ],
            resources: [.copy("Resources/index.html")]
        ),
        // Socket.IO v5 over Engine.IO v4: engine / parser / adapter / server.
        .target(
            name: "SocketIO",
            dependencies: ["Duplex"]
        ),
        .executableTarget(
            name: "DuplexCLI",
            dependencies: [
                "Duplex", "ChatRoom", "SocketIO",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "SocketIOConformance",
            dependencies: ["SocketIO"]
        ),
        .testTarget(name: "DuplexTests", dependencies: ["Duplex"]),
        .testTarget(name: "ChatRoomTests", dependencies: ["ChatRoom"]),
        .testTarget(name: "SocketIOTests", dependencies: ["SocketIO"]),
    ]
)
