//! HTTP Digest authentication for REGISTER (RFC 3261 §22, RFC 7616, RFC 8760: SHA-256 and MD5).
