//! Discrete-event simulation in virtual time that drives the [`crate::queue`] core.
