import ArgumentParser

@main
struct DuplexCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "duplex",
        abstract: "Real-time messaging for Swift: WebSocket echo server, chat room, Socket.IO.",
        version: "duplex 0.3.0",
        subcommands: [ChatCommand.self, EchoCommand.self, ConnectCommand.self, BenchCommand.self]
    )
}
