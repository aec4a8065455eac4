//! Call classification (DESIGN.md §4) and the call record.

mod class;

pub use class::CallClass;
