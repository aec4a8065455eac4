//! Call classification (docs/DESIGN.md §4) and the call record.

mod class;
pub mod classify;

pub use class::CallClass;
pub use classify::{
    classify, classify_input, Action, Classification, ClassifyConfig, ClassifyInput, Reason,
    UnknownPolicy,
};
