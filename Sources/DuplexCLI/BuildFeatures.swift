/// What this build of `duplex` can do: TLS and PostgreSQL are package traits, off by
/// default because each compiles a large C library (BoringSSL) that a first
/// `swift run duplex chat` should not wait for.
enum BuildFeatures {
    static let tlsMissing = """
        this duplex was built without TLS (wss://, --tls-cert, --ca-file, --insecure): \
        rebuild with the TLS trait, e.g. `swift build -c release --traits TLS`
        """
}
