import ArgumentParser

struct ConnectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "connect", abstract: "Interactive WebSocket client (not yet).")
    func run() async throws { throw ValidationError("not yet implemented") }
}
