import ArgumentParser

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench", abstract: "WebSocket load generator (not yet).")
    func run() async throws { throw ValidationError("not yet implemented") }
}
