// uWebSockets reference server for the Duplex benchmarks.
//
// Usage: uws_server PORT
//
// Listens on 127.0.0.1:PORT (plain TCP, no TLS, no compression).
//   /broadcast  every message received is published to the topic "b",
//               to which every /broadcast connection (sender included)
//               is subscribed.
//   any other   every message is echoed back to its sender with the
//               same opcode.
//
// Build, with <uSockets>/uSockets.a built by `make WITH_LTO=0` (no SSL):
//   g++ -O3 -std=c++20 -DLIBUS_NO_SSL -I<uWebSockets>/src -I<uSockets>/src \
//       uws_server.cpp <uSockets>/uSockets.a -lz -o uws_server

#include "App.h"

#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

// No per-connection state is needed by either handler.
struct Empty {};

// Settings shared by both routes: no compression, 16 MiB messages,
// no idle timeout (0 disables it, so held connections stay open) and
// no backpressure limit (0 = unlimited) so that no message is dropped.
uWS::App::WebSocketBehavior<Empty> baseBehavior() {
    uWS::App::WebSocketBehavior<Empty> b;
    b.compression = uWS::DISABLED;
    b.maxPayloadLength = 16 * 1024 * 1024;
    b.idleTimeout = 0;
    b.maxBackpressure = 0;
    b.closeOnBackpressureLimit = false;
    b.sendPingsAutomatically = false;
    return b;
}

} // namespace

int main(int argc, char **argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s PORT\n", argv[0]);
        return 2;
    }
    const int port = std::atoi(argv[1]);

    uWS::App app;

    // Broadcast route: subscribe on open, publish every message to all
    // subscribers. App::publish (unlike WebSocket::publish) also delivers
    // to the sender, which is what the benchmark expects.
    auto broadcast = baseBehavior();
    broadcast.open = [](uWS::WebSocket<false, true, Empty> *ws) {
        ws->subscribe("b");
    };
    broadcast.message = [&app](uWS::WebSocket<false, true, Empty> *,
                               std::string_view message, uWS::OpCode opCode) {
        app.publish("b", message, opCode);
    };

    // Echo route: send the message straight back with the same opcode.
    auto echo = baseBehavior();
    echo.message = [](uWS::WebSocket<false, true, Empty> *ws,
                      std::string_view message, uWS::OpCode opCode) {
        ws->send(message, opCode);
    };

    // The router prefers the static "/broadcast" over the "/*" wildcard.
    app.ws<Empty>("/broadcast", std::move(broadcast))
       .ws<Empty>("/*", std::move(echo))
       .listen("127.0.0.1", port, [port](us_listen_socket_t *listenSocket) {
           if (!listenSocket) {
               std::fprintf(stderr, "uws failed to listen on %d\n", port);
               std::exit(1);
           }
           std::printf("uws listening on %d\n", port);
           std::fflush(stdout);
       })
       .run();

    return 0;
}
