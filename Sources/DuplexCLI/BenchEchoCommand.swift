import ArgumentParser
import Duplex
import DuplexBench

struct BenchEcho: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "echo",
        abstract: "N connections each keep a window of messages in flight against an echo server.")

    @OptionGroup var common: BenchCommonOptions
    @Option(name: [.customShort("c"), .long], help: "Connections.") var connections = 100
    @Option(name: [.customShort("s"), .long], help: "Message size in bytes.") var size = 20
    @Flag(help: "Send binary messages (default: text).") var binary = false
    @Option(help: "Messages in flight per connection (1: send, wait for the echo, send the next).") var window = 1

    func run() async throws {
        var parameters = Bench.EchoParameters()
        parameters.connections = connections
        parameters.size = size
        parameters.binary = binary
        parameters.window = window
        let options = common.benchOptions()
        try await common.report { try await Bench.echo(options, parameters) }
    }
}
