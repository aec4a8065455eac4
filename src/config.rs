//! Engine configuration: one TOML file, validated before any port is bound; an embedded default.
