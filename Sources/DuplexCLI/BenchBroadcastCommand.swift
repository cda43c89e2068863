import ArgumentParser
import Duplex
import DuplexBench

struct BenchBroadcast: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "broadcast",
        abstract: "Publishers send to a broadcast endpoint; every message must reach every connection.",
        discussion: """
            The server must send every text message received on --path (default /broadcast) to every \
            connection on that path, the sender included. Reports deliveries/s and delivery latency.
            """)

    @OptionGroup var common: BenchCommonOptions
    @OptionGroup var broadcast: BroadcastOptions

    func run() async throws {
        let options = common.benchOptions(defaultPath: "/broadcast")
        let parameters = broadcast.parameters
        try await common.report { try await Bench.broadcast(options, parameters) }
    }
}
