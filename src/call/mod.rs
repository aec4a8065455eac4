//! Call classification (DESIGN.md §4) and the call record.
