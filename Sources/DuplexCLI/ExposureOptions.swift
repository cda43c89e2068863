import ArgumentParser
import Duplex

/// Who may reach a server subcommand, and how much memory peers may make it hold.
struct ExposureOptions: ParsableArguments {
    @Option(name: .customLong("allow-origin"),
            help: "A web origin whose pages may connect (e.g. https://app.example.com; repeatable; '*' allows any). Default: the server's own pages only.")
    var allowedOrigins: [String] = []
    @Option(name: .customLong("allow-host"),
            help: "A host name accepted in the Host header when listening on loopback (repeatable). Default: loopback names only (DNS rebinding protection).")
    var allowedHosts: [String] = []
    @Option(help: "Server-wide bound, in MiB, on bytes held for peers (unfinished messages, request bodies, unsent output); 0: none.")
    var memoryBudget = 1024

    func validate() throws {
        guard memoryBudget >= 0 else { throw ValidationError("--memory-budget must be 0 (none) or a number of MiB") }
        for origin in allowedOrigins where origin != "*" {
            guard origin.contains("://") else {
                throw ValidationError("--allow-origin takes an origin such as https://app.example.com, not '\(origin)'")
            }
        }
    }

    func apply(to configuration: inout WebSocketServer.Configuration) {
        configuration.allowedOrigins = configuration.allowedOrigins.allowing(allowedOrigins)
        configuration.allowedHosts += allowedHosts
        configuration.memoryBudget = memoryBudget > 0 ? memoryBudget * 1024 * 1024 : nil
    }
}
