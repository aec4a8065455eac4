//! RFC 3261 §17 transaction state machines (client/server × INVITE/non-INVITE), sans-IO.
