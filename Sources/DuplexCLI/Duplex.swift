import ArgumentParser

@main
struct DuplexCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "duplex",
        abstract: "Real-time messaging for Swift: WebSocket echo server, chat room, Socket.IO.",
        subcommands: [ChatCommand.self, EchoCommand.self, ConnectCommand.self, BenchCommand.self]
    )
}
