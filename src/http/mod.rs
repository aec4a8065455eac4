//! HTTP API (placeholder while written).
