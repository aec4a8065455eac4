//! The journal's SQLite schema and the statements that write and read it. Times are
//! wall-clock Unix ms (`_unix_ms`): monotonic engine times mean nothing after a restart.
//!
//! Calls are keyed by `(run, call_id)`: the engine numbers calls from 1 again after a
//! restart, so each process start opens a new `run`.

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::{CallRecord, CallbackOrigin, CallbackRecord, CallbackRow, JournalState, StoreError};
use crate::call::CallClass;

/// `PRAGMA user_version` of this schema.
pub(crate) const SCHEMA_VERSION: i64 = 1;

pub(crate) const CREATE: &str = "
CREATE TABLE IF NOT EXISTS runs (
    run INTEGER PRIMARY KEY AUTOINCREMENT,
    started_unix_ms INTEGER NOT NULL,
    recovered_calls INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS calls (
    run INTEGER NOT NULL,
    call_id INTEGER NOT NULL,
    class TEXT,
    reason TEXT NOT NULL,
    caller TEXT NOT NULL,
    callback_number TEXT,
    location_json TEXT,
    state TEXT NOT NULL,
    handler TEXT,
    outcome TEXT,
    carrier_call_id TEXT NOT NULL,
    offers INTEGER NOT NULL,
    arrived_unix_ms INTEGER NOT NULL,
    queued_unix_ms INTEGER,
    offered_unix_ms INTEGER,
    answered_unix_ms INTEGER,
    ended_unix_ms INTEGER,
    PRIMARY KEY (run, call_id)
);
CREATE INDEX IF NOT EXISTS calls_by_state ON calls (state);
CREATE TABLE IF NOT EXISTS callbacks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run INTEGER NOT NULL,
    call_id INTEGER NOT NULL,
    class TEXT,
    caller TEXT NOT NULL,
    callback_number TEXT,
    location_json TEXT,
    arrived_unix_ms INTEGER NOT NULL,
    abandoned_unix_ms INTEGER NOT NULL,
    offers INTEGER NOT NULL,
    origin TEXT NOT NULL,
    done INTEGER NOT NULL DEFAULT 0,
    done_unix_ms INTEGER,
    UNIQUE (run, call_id)
);
";

/// SQLite stores signed 64-bit integers; engine ids and times fit (saturating otherwise).
pub(crate) fn i64_of(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn u64_of(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

pub(crate) fn class_of(s: Option<String>) -> Option<CallClass> {
    match s.as_deref() {
        Some("emergency") => Some(CallClass::Emergency),
        Some("non-emergency") => Some(CallClass::NonEmergency),
        Some("admin") => Some(CallClass::Admin),
        _ => None,
    }
}

pub(crate) fn upsert_call(conn: &Connection, run: i64, c: &CallRecord) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO calls (run, call_id, class, reason, caller, callback_number, location_json,
             state, handler, outcome, carrier_call_id, offers, arrived_unix_ms, queued_unix_ms,
             offered_unix_ms, answered_unix_ms, ended_unix_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)
         ON CONFLICT (run, call_id) DO UPDATE SET
             class = excluded.class, reason = excluded.reason, caller = excluded.caller,
             callback_number = excluded.callback_number, location_json = excluded.location_json,
             state = excluded.state, handler = excluded.handler, outcome = excluded.outcome,
             carrier_call_id = excluded.carrier_call_id, offers = excluded.offers,
             arrived_unix_ms = excluded.arrived_unix_ms, queued_unix_ms = excluded.queued_unix_ms,
             offered_unix_ms = excluded.offered_unix_ms,
             answered_unix_ms = excluded.answered_unix_ms, ended_unix_ms = excluded.ended_unix_ms",
    )?
    .execute(params![
        run,
        i64_of(c.call_id),
        c.class.map(CallClass::as_str),
        c.reason,
        c.caller,
        c.callback_number,
        c.location_json,
        c.state.as_str(),
        c.handler,
        c.outcome,
        c.carrier_call_id,
        i64::from(c.offers),
        c.arrived_unix_ms,
        c.queued_unix_ms,
        c.offered_unix_ms,
        c.answered_unix_ms,
        c.ended_unix_ms,
    ])?;
    Ok(())
}

pub(crate) fn upsert_callback(
    conn: &Connection,
    run: i64,
    c: &CallbackRecord,
    origin: CallbackOrigin,
) -> rusqlite::Result<()> {
    // The done flag is never reset by a later upsert of the same item.
    conn.prepare_cached(
        "INSERT INTO callbacks (run, call_id, class, caller, callback_number, location_json,
             arrived_unix_ms, abandoned_unix_ms, offers, origin)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT (run, call_id) DO UPDATE SET
             class = excluded.class, caller = excluded.caller,
             callback_number = excluded.callback_number, location_json = excluded.location_json,
             arrived_unix_ms = excluded.arrived_unix_ms,
             abandoned_unix_ms = excluded.abandoned_unix_ms, offers = excluded.offers",
    )?
    .execute(params![
        run,
        i64_of(c.call_id),
        c.class.map(CallClass::as_str),
        c.caller,
        c.callback_number,
        c.location_json,
        c.arrived_unix_ms,
        c.abandoned_unix_ms,
        i64::from(c.offers),
        origin.as_str(),
    ])?;
    Ok(())
}

pub(crate) fn callback_done_by_call(
    conn: &Connection,
    run: i64,
    call_id: u64,
    at: i64,
) -> rusqlite::Result<usize> {
    conn.prepare_cached(
        "UPDATE callbacks SET done = 1, done_unix_ms = ?3 WHERE run = ?1 AND call_id = ?2 AND done = 0",
    )?
    .execute(params![run, i64_of(call_id), at])
}

pub(crate) fn callback_done_by_id(conn: &Connection, id: i64, at: i64) -> rusqlite::Result<usize> {
    conn.prepare_cached(
        "UPDATE callbacks SET done = 1, done_unix_ms = ?2 WHERE id = ?1 AND done = 0",
    )?
    .execute(params![id, at])
}

const CALLBACK_COLUMNS: &str = "id, run, call_id, class, caller, callback_number, location_json,
    arrived_unix_ms, abandoned_unix_ms, offers, origin, done, done_unix_ms";

fn callback_row(r: &Row<'_>) -> rusqlite::Result<CallbackRow> {
    let origin: String = r.get(10)?;
    Ok(CallbackRow {
        id: r.get(0)?,
        run: r.get(1)?,
        call_id: u64_of(r.get(2)?),
        class: class_of(r.get(3)?),
        caller: r.get(4)?,
        callback_number: r.get(5)?,
        location_json: r.get(6)?,
        arrived_unix_ms: r.get(7)?,
        abandoned_unix_ms: r.get(8)?,
        offers: u32::try_from(r.get::<_, i64>(9)?).unwrap_or(u32::MAX),
        origin: if origin == "recovered" {
            CallbackOrigin::Recovered
        } else {
            CallbackOrigin::Abandoned
        },
        done: r.get::<_, i64>(11)? != 0,
        done_unix_ms: r.get(12)?,
    })
}

/// Callback items, oldest first; only open ones when `open_only`; at most `limit`.
pub(crate) fn callbacks(
    conn: &Connection,
    open_only: bool,
    limit: usize,
) -> Result<Vec<CallbackRow>, StoreError> {
    let sql = format!(
        "SELECT {CALLBACK_COLUMNS} FROM callbacks {} ORDER BY id LIMIT ?1",
        if open_only { "WHERE done = 0" } else { "" }
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![i64_of(limit as u64)], callback_row)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

pub(crate) fn callback_by_id(
    conn: &Connection,
    id: i64,
) -> Result<Option<CallbackRow>, StoreError> {
    let sql = format!("SELECT {CALLBACK_COLUMNS} FROM callbacks WHERE id = ?1");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params![id], callback_row)
        .optional()?)
}

fn call_row(r: &Row<'_>) -> rusqlite::Result<(i64, CallRecord)> {
    let state: String = r.get(7)?;
    Ok((
        r.get(0)?,
        CallRecord {
            call_id: u64_of(r.get(1)?),
            class: class_of(r.get(2)?),
            reason: r.get(3)?,
            caller: r.get(4)?,
            callback_number: r.get(5)?,
            location_json: r.get(6)?,
            state: JournalState::parse(&state).unwrap_or(JournalState::Ended),
            handler: r.get(8)?,
            outcome: r.get(9)?,
            carrier_call_id: r.get(10)?,
            offers: u32::try_from(r.get::<_, i64>(11)?).unwrap_or(u32::MAX),
            arrived_unix_ms: r.get(12)?,
            queued_unix_ms: r.get(13)?,
            offered_unix_ms: r.get(14)?,
            answered_unix_ms: r.get(15)?,
            ended_unix_ms: r.get(16)?,
        },
    ))
}

const CALL_COLUMNS: &str = "run, call_id, class, reason, caller, callback_number, location_json,
    state, handler, outcome, carrier_call_id, offers, arrived_unix_ms, queued_unix_ms,
    offered_unix_ms, answered_unix_ms, ended_unix_ms";

/// The newest `limit` calls (all runs), newest first, with their run.
pub(crate) fn recent_calls(
    conn: &Connection,
    limit: usize,
) -> Result<Vec<(i64, CallRecord)>, StoreError> {
    let sql = format!("SELECT {CALL_COLUMNS} FROM calls ORDER BY run DESC, call_id DESC LIMIT ?1");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![i64_of(limit as u64)], call_row)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Calls of earlier runs whose last journaled state was arrived, queued or offered.
pub(crate) fn unfinished_calls(
    conn: &Connection,
    before_run: i64,
) -> Result<Vec<(i64, CallRecord)>, StoreError> {
    let sql = format!(
        "SELECT {CALL_COLUMNS} FROM calls WHERE run < ?1 AND state IN ('arrived', 'queued', 'offered')
         ORDER BY run, call_id"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![before_run], call_row)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}
