import ArgumentParser
import Duplex
import DuplexBench

struct BenchConnect: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "connect",
        abstract: "Open N idle connections (at a rate), hold them; handshake rate and server RSS per connection.")

    @OptionGroup var common: BenchCommonOptions
    @Option(name: [.customShort("c"), .long], help: "Connections.") var connections = 1_000
    @Option(help: "Connections started per second (default: as fast as --concurrency allows).") var rate: Double?
    @Option(help: "Seconds to hold the connections open.") var hold = 5.0
    @Flag(help: "Echo one message on every connection before reading the server's memory.") var touch = false

    func run() async throws {
        var parameters = Bench.ConnectParameters()
        parameters.connections = connections
        parameters.rate = rate
        parameters.hold = hold
        parameters.touch = touch
        let options = common.benchOptions()
        try await common.report { try await Bench.connect(options, parameters) }
    }
}
