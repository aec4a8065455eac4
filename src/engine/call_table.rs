//! The engine's call records by id, remembering which ones were changed, so the views of
//! live calls can be kept up to date as calls change instead of being rebuilt for every
//! snapshot (docs/DESIGN.md §8: the API's views are taken on the engine task, and a
//! snapshot that walked every live call's record held 999 INVITEs up for 0.5–1 ms).
//!
//! Every way to change a record goes through [`CallTable::get_mut`] or
//! [`CallTable::insert`], and both note the id; [`CallTable::take_touched`] hands the
//! noted ids over. A view depends on nothing but its record (`Call::view`), so a record
//! not noted since its view was taken still has that view.

use super::calls::Call;

/// Call records by engine call id, with the ids changed since [`CallTable::take_touched`].
#[derive(Debug, Default)]
pub(crate) struct CallTable {
    map: crate::queue::ShardedIdMap<u64, Box<Call>>,
    /// Ids inserted or mutably borrowed since the last `take_touched`, in order, possibly
    /// repeated (consecutive repeats are folded).
    touched: Vec<u64>,
}

impl CallTable {
    /// Number of records (live and lingering finished calls).
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// The record of call `id`.
    pub(crate) fn get(&self, id: &u64) -> Option<&Call> {
        self.map.get(id).map(|c| &**c)
    }

    /// The record of call `id`, to change: the id is noted as touched.
    pub(crate) fn get_mut(&mut self, id: &u64) -> Option<&mut Call> {
        let c = self.map.get_mut(id)?;
        if self.touched.last() != Some(id) {
            self.touched.push(*id);
        }
        Some(&mut **c)
    }

    /// Adds (or replaces) the record of call `id`; the id is noted as touched.
    pub(crate) fn insert(&mut self, id: u64, call: Box<Call>) {
        self.map.insert(id, call);
        if self.touched.last() != Some(&id) {
            self.touched.push(id);
        }
    }

    /// Removes the record of call `id`.
    pub(crate) fn remove(&mut self, id: &u64) -> Option<Box<Call>> {
        self.map.remove(id)
    }

    /// Ids touched since the last call, sorted, each once.
    pub(crate) fn take_touched(&mut self) -> Vec<u64> {
        let mut ids = std::mem::take(&mut self.touched);
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// The touched ids not yet taken (unsorted, possibly repeated).
    pub(crate) fn touched(&self) -> &[u64] {
        &self.touched
    }
}
