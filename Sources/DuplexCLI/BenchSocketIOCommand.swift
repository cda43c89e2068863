import ArgumentParser
import Duplex
import DuplexBench

struct BenchSocketIO: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "socketio",
        abstract: "Echo with acks, or broadcast, over Socket.IO v5 (Engine.IO v4, WebSocket transport only).",
        discussion: """
            echo: emits 42<id>["echo","<payload>"] and expects the ack 43<id>["<payload>"]. \
            broadcast: publishers emit 42["broadcast","<payload>"]; the server must emit \
            42["message","<payload>"] to every connected socket, the sender included.
            """)

    @OptionGroup var common: BenchCommonOptions
    @Option(help: "echo or broadcast.") var mode: String = "echo"
    @OptionGroup var broadcast: BroadcastOptions

    func run() async throws {
        let options = common.benchOptions(defaultPath: Bench.socketIOPath)
        switch mode {
        case "echo":
            var parameters = Bench.EchoParameters()
            parameters.connections = broadcast.connections
            parameters.size = broadcast.size == 32 ? 20 : broadcast.size
            parameters.window = broadcast.window
            try await common.report { try await Bench.socketIOEcho(options, parameters) }
        case "broadcast":
            let parameters = broadcast.parameters
            try await common.report { try await Bench.socketIOBroadcast(options, parameters) }
        default:
            throw ValidationError("--mode must be echo or broadcast")
        }
    }
}
