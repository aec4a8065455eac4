//! Priority queue, handler registry and routing policy (DESIGN.md §6): a sans-IO state
//! machine, `(now, event) → actions`, owned by one task.
