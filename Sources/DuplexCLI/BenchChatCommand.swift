import ArgumentParser
import Duplex
import DuplexBench

struct BenchChat: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat",
        abstract: "Members of one `duplex chat` room; publishers talk at a fixed rate, everyone receives everything.",
        discussion: """
            Every connection joins --room (a fresh random one by default) and is ready at its welcome. \
            Publishers send a text message --rate times a second (the chat accepts 20 per 5 s per \
            connection); every member must receive every message. Repeat --port to spread the members \
            over the nodes of a chat on PostgreSQL. Reports deliveries/s and delivery latency.
            """)

    @OptionGroup var common: BenchCommonOptions
    @Option(name: [.customShort("c"), .long], help: "Members of the room.") var connections = 100
    @Option(help: "Members that also talk.") var publishers = 10
    @Option(help: "Messages per second of each publisher.") var rate = 2.0
    @Option(name: [.customShort("s"), .long], help: "Message size in characters (at least 24: send time and publisher id).") var size = 32
    @Option(help: "The room (default: a fresh one, so that no history is replayed).") var room: String?

    func validate() throws {
        guard connections > 0, publishers > 0 else { throw ValidationError("--connections and --publishers must be positive") }
        guard rate > 0, rate <= 4 else { throw ValidationError("--rate must be in (0, 4]: the chat accepts 20 messages per 5 s per connection") }
    }

    func run() async throws {
        let room = room ?? "bench-\(UInt32.random(in: 0...UInt32.max))"
        let options = common.benchOptions(defaultPath: "/?room=\(room)")
        var parameters = Bench.ChatParameters()
        parameters.connections = connections
        parameters.publishers = publishers
        parameters.rate = rate
        parameters.size = size
        try await common.report { try await Bench.chat(options, parameters) }
    }
}
