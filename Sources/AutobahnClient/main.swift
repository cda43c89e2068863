print("duplex-autobahn-client: not yet")
