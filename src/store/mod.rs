//! The call journal (issue 6; docs/DESIGN.md §2 `store/`): every call's record and the
//! abandoned-call callback list in an embedded SQLite database (`journal.sqlite3` in the
//! configured data directory, WAL mode), written **off the call path** by one writer
//! thread fed through bounded crossbeam channels.
//!
//! # Call path
//! [`Journal::record`] never blocks: it `try_send`s the record and, when the channel is
//! full, counts the drop ([`Journal::dropped`]) and returns [`RecordError::Full`].
//! Emergency-class call records travel on their own lane (a second bounded channel the
//! writer always drains first), so a flood of non-emergency or admin records can neither
//! delay nor crowd out a 999 call's record.
//!
//! # Durability: an emergency call's arrival is on disk within 100 ms
//! The writer blocks until a record arrives, opens a transaction and keeps applying
//! records while more are waiting; it commits once both channels are empty (after the
//! group-commit window below), or
//! when [`JournalConfig::commit_interval_ms`] (default 50 ms) has passed since the
//! transaction began, or after [`JournalConfig::max_batch`] records — whichever comes
//! first; when the channels run dry within [`JournalConfig::gather_ms`] (default 10 ms) of
//! the transaction's start, the writer waits out that window for more records first. A
//! record therefore waits at most `commit_interval_ms` plus one commit before it
//! is durable; when idle it is committed after at most `gather_ms` (group commit: under load each commit
//! carries many records, so throughput grows with load instead of falling behind). With
//! `synchronous = FULL` (the default, [`JournalConfig::synchronous_full`]) a commit
//! survives power loss; with `NORMAL` it survives a process kill (SIGKILL) but maybe not
//! a power cut. A 50 ms interval plus a commit (single-digit ms on a local disk) keeps
//! the 100 ms bound with margin. [`Journal::wait_durable`] observes it (without hurrying it).
//!
//! # Runs and recovery
//! The engine numbers calls from 1 on every start, so records are keyed by `(run,
//! call_id)`, where [`Journal::open`] starts a new run. On open, calls of earlier runs
//! whose last journaled state was [`JournalState::Arrived`], [`JournalState::Queued`] or
//! [`JournalState::Offered`] (the process died while they waited or rang) become callback
//! items with origin [`CallbackOrigin::Recovered`], their number and location, and are
//! marked [`JournalState::Lost`]; [`Recovery`] returns them and every other open callback
//! item so the engine can show them (docs/DESIGN.md §6: an abandoned 999 is never dropped).
//!
//! Nothing here decides about calls; the engine tells the journal what happened.

pub mod data_dir;
mod schema;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Select, Sender, TrySendError};
use parking_lot::{Condvar, Mutex};
use rusqlite::{params, Connection, OpenFlags};
use serde::Serialize;

use crate::call::CallClass;

/// Most open callback items [`Journal::open`] returns in [`Recovery::open_callbacks`]
/// (oldest first); the rest stay in the journal for [`JournalReader::callbacks`].
pub const MAX_OPEN_CALLBACKS: usize = 100_000;

/// File name of the database inside the data directory.
pub const DB_FILE: &str = "journal.sqlite3";

/// Journal settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalConfig {
    /// Data directory (created if missing); the database is `dir/journal.sqlite3`.
    pub dir: PathBuf,
    /// Depth of the normal channel, records (default 16,384).
    pub channel_depth: usize,
    /// Depth of the emergency lane, records (default 4,096).
    pub emergency_channel_depth: usize,
    /// Longest time a transaction stays open before it is committed, ms (1–90; default
    /// 50). Keeps an emergency arrival durable within 100 ms under continuous load.
    pub commit_interval_ms: u64,
    /// Most records per transaction (default 4,096).
    pub max_batch: usize,
    /// Group-commit window, ms (0 to `commit_interval_ms − 1`; default 10): when the
    /// channels run dry this soon after a transaction began, the writer waits up to this
    /// long for more records before committing. Fewer commits (fsyncs) at moderate load,
    /// so the writer thread takes less CPU from the engine; adds at most this much to the
    /// durability delay. 0 commits as soon as the channels are empty.
    pub gather_ms: u64,
    /// `PRAGMA synchronous = FULL` (fsync the WAL on every commit) when `true` (default),
    /// `NORMAL` otherwise.
    pub synchronous_full: bool,
}

impl JournalConfig {
    /// Defaults for a data directory.
    pub fn new(dir: impl Into<PathBuf>) -> JournalConfig {
        JournalConfig {
            dir: dir.into(),
            channel_depth: 16_384,
            emergency_channel_depth: 4_096,
            commit_interval_ms: 50,
            max_batch: 4_096,
            gather_ms: 10,
            synchronous_full: true,
        }
    }
}

/// Where a call is, as the journal knows it (mirrors the engine's call states).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum JournalState {
    /// INVITE received and classified, not yet queued.
    Arrived,
    /// Waiting in the queue.
    Queued,
    /// Ringing at a handler (or the overflow partner).
    Offered,
    /// Answered.
    Connected,
    /// Finished (completed, rejected, overflowed, failed).
    Ended,
    /// The caller hung up before an answer.
    Abandoned,
    /// Was arrived/queued/offered when the process died; recovered as a callback item.
    Lost,
}

impl JournalState {
    /// Stable lower-case name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            JournalState::Arrived => "arrived",
            JournalState::Queued => "queued",
            JournalState::Offered => "offered",
            JournalState::Connected => "connected",
            JournalState::Ended => "ended",
            JournalState::Abandoned => "abandoned",
            JournalState::Lost => "lost",
        }
    }

    /// Inverse of [`JournalState::as_str`].
    pub fn parse(s: &str) -> Option<JournalState> {
        Some(match s {
            "arrived" => JournalState::Arrived,
            "queued" => JournalState::Queued,
            "offered" => JournalState::Offered,
            "connected" => JournalState::Connected,
            "ended" => JournalState::Ended,
            "abandoned" => JournalState::Abandoned,
            "lost" => JournalState::Lost,
            _ => return None,
        })
    }

    /// `true` for the states a dead process leaves a waiting caller in.
    pub fn is_waiting(self) -> bool {
        matches!(
            self,
            JournalState::Arrived | JournalState::Queued | JournalState::Offered
        )
    }
}

/// One call's journal record, upserted whole by `call_id` (within the current run).
/// Times are wall clock, Unix ms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallRecord {
    /// Engine call id.
    pub call_id: u64,
    /// Queue class (`None` for test calls and refused numbers).
    pub class: Option<CallClass>,
    /// Classification reason, as text.
    pub reason: String,
    /// Caller (From / P-Asserted-Identity).
    pub caller: String,
    /// Callback number, if known.
    pub callback_number: Option<String>,
    /// Location summary as JSON (`crate::location::summary::LocationSummary`).
    pub location_json: Option<String>,
    /// State.
    pub state: JournalState,
    /// Handler ringing or connected (seat id / user name).
    pub handler: Option<String>,
    /// Outcome when ended (`completed`, `abandoned`, `rejected-503`, `overflowed`…).
    pub outcome: Option<String>,
    /// Carrier leg Call-ID.
    pub carrier_call_id: String,
    /// Offers made.
    pub offers: u32,
    /// INVITE arrival, Unix ms.
    pub arrived_unix_ms: i64,
    /// First queued, Unix ms.
    pub queued_unix_ms: Option<i64>,
    /// Last offered, Unix ms.
    pub offered_unix_ms: Option<i64>,
    /// Answered, Unix ms.
    pub answered_unix_ms: Option<i64>,
    /// Ended or abandoned, Unix ms.
    pub ended_unix_ms: Option<i64>,
}

/// An abandoned call to put on the callback list (current run), upserted by `call_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallbackRecord {
    /// Engine call id.
    pub call_id: u64,
    /// Class.
    pub class: Option<CallClass>,
    /// Caller.
    pub caller: String,
    /// Callback number.
    pub callback_number: Option<String>,
    /// Location summary JSON.
    pub location_json: Option<String>,
    /// Arrival, Unix ms.
    pub arrived_unix_ms: i64,
    /// Caller hung up, Unix ms.
    pub abandoned_unix_ms: i64,
    /// Offers made before the hang-up.
    pub offers: u32,
}

/// How an item got onto the callback list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CallbackOrigin {
    /// The caller hung up before an answer.
    Abandoned,
    /// The call was waiting or ringing when the process died.
    Recovered,
}

impl CallbackOrigin {
    fn as_str(self) -> &'static str {
        match self {
            CallbackOrigin::Abandoned => "abandoned",
            CallbackOrigin::Recovered => "recovered",
        }
    }
}

/// A callback-list row as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallbackRow {
    /// Journal id of the item (stable across restarts; use it with
    /// [`JournalRecord::CallbackDoneById`]).
    pub id: i64,
    /// Run the call belonged to.
    pub run: i64,
    /// Engine call id within that run.
    pub call_id: u64,
    /// Class.
    pub class: Option<CallClass>,
    /// Caller.
    pub caller: String,
    /// Callback number.
    pub callback_number: Option<String>,
    /// Location summary JSON.
    pub location_json: Option<String>,
    /// Arrival, Unix ms.
    pub arrived_unix_ms: i64,
    /// Hang-up (or, for recovered items, the last time the journal heard of the call),
    /// Unix ms.
    pub abandoned_unix_ms: i64,
    /// Offers made.
    pub offers: u32,
    /// Abandoned or recovered.
    pub origin: CallbackOrigin,
    /// Called back.
    pub done: bool,
    /// When marked done, Unix ms.
    pub done_unix_ms: Option<i64>,
}

/// A write for the journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JournalRecord {
    /// Insert or replace a call's record.
    Call(CallRecord),
    /// Put an abandoned call on the callback list (its done flag is kept on re-upsert).
    Callback(CallbackRecord),
    /// The current run's call `call_id` was called back.
    CallbackDone {
        /// Engine call id.
        call_id: u64,
        /// When, Unix ms.
        done_unix_ms: i64,
    },
    /// The callback item with journal id `id` (any run) was called back.
    CallbackDoneById {
        /// [`CallbackRow::id`].
        id: i64,
        /// When, Unix ms.
        done_unix_ms: i64,
    },
}

impl JournalRecord {
    /// Emergency-class records take the emergency lane.
    pub fn is_emergency(&self) -> bool {
        match self {
            JournalRecord::Call(c) => c.class == Some(CallClass::Emergency),
            JournalRecord::Callback(c) => c.class == Some(CallClass::Emergency),
            JournalRecord::CallbackDone { .. } | JournalRecord::CallbackDoneById { .. } => false,
        }
    }
}

/// Journal failures (I/O, SQLite); never caused by a caller or a peer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The data directory could not be created.
    #[error("data directory {path}: {source}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// SQLite refused.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The database was written by a newer schema.
    #[error("journal schema version {0} is newer than this build's {max}", max = schema::SCHEMA_VERSION)]
    SchemaTooNew(i64),
    /// A config value out of range.
    #[error("journal config: {0}")]
    BadConfig(&'static str),
    /// The writer thread could not be started.
    #[error("cannot start the journal writer: {0}")]
    Thread(std::io::Error),
}

/// Why [`Journal::record`] did not take a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The channel was full; the record was dropped and counted.
    #[error("journal channel full: record dropped")]
    Full,
    /// The writer thread has stopped (a SQLite error); the record was dropped and counted.
    #[error("journal writer stopped: record dropped")]
    Stopped,
}

/// What [`Journal::open`] found from earlier runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovery {
    /// The run this process writes as.
    pub run: i64,
    /// Calls that were waiting or ringing when an earlier process died, now callback
    /// items (origin [`CallbackOrigin::Recovered`]).
    pub recovered: Vec<CallbackRow>,
    /// Open (not done) callback items, recovered ones included, oldest first (at most
    /// [`MAX_OPEN_CALLBACKS`]).
    pub open_callbacks: Vec<CallbackRow>,
}

/// Counters shared with the writer.
#[derive(Debug, Default)]
struct Shared {
    /// Highest sequence number committed, per lane (`[normal, emergency]`); each lane is
    /// FIFO, so everything up to it on that lane is durable.
    committed: Mutex<[u64; 2]>,
    committed_cv: Condvar,
    dropped: AtomicU64,
    commits: AtomicU64,
    written: AtomicU64,
    failed: AtomicU64,
}

/// A record with its lane and its sequence number on that lane.
struct Msg {
    lane: usize,
    seq: u64,
    record: JournalRecord,
}

/// Receipt for a record handed to [`Journal::record`]: pass it to
/// [`Journal::wait_durable`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket {
    /// 0 = normal lane, 1 = emergency lane.
    lane: usize,
    /// Sequence number on that lane (from 1).
    seq: u64,
}

const NORMAL: usize = 0;
const EMERGENCY: usize = 1;

// === impl Journal ===

/// The journal handle: owned by the engine's task; records go to the writer thread.
pub struct Journal {
    normal: Option<Sender<Msg>>,
    emergency: Option<Sender<Msg>>,
    shared: Arc<Shared>,
    /// Last sequence number used per lane.
    last_seq: [u64; 2],
    run: i64,
    path: PathBuf,
    writer: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("path", &self.path)
            .field("run", &self.run)
            .finish_non_exhaustive()
    }
}

fn open_connection(path: &Path, synchronous_full: bool) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    debug_assert_eq!(mode.to_ascii_lowercase(), "wal");
    conn.pragma_update(
        None,
        "synchronous",
        if synchronous_full { "FULL" } else { "NORMAL" },
    )?;
    Ok(conn)
}

impl Journal {
    /// Opens (creating if needed) the journal in `config.dir`, starts a new run at wall
    /// time `now_unix_ms`, recovers calls left waiting by a dead process (see the module
    /// docs) and starts the writer thread.
    ///
    /// # Errors
    /// [`StoreError`] when the directory or database cannot be opened or migrated.
    pub fn open(
        config: &JournalConfig,
        now_unix_ms: i64,
    ) -> Result<(Journal, Recovery), StoreError> {
        if !(1..=90).contains(&config.commit_interval_ms) {
            return Err(StoreError::BadConfig("commit_interval_ms must be 1..=90"));
        }
        if config.gather_ms >= config.commit_interval_ms {
            return Err(StoreError::BadConfig(
                "gather_ms must be below commit_interval_ms",
            ));
        }
        if config.channel_depth == 0 || config.emergency_channel_depth == 0 || config.max_batch == 0
        {
            return Err(StoreError::BadConfig(
                "channel depths and max_batch must be > 0",
            ));
        }
        std::fs::create_dir_all(&config.dir).map_err(|source| StoreError::Dir {
            path: config.dir.clone(),
            source,
        })?;
        let path = config.dir.join(DB_FILE);
        let mut conn = open_connection(&path, config.synchronous_full)?;
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version > schema::SCHEMA_VERSION {
            return Err(StoreError::SchemaTooNew(version));
        }
        conn.execute_batch(schema::CREATE)?;
        conn.pragma_update(None, "user_version", schema::SCHEMA_VERSION)?;

        let recovery = {
            let tx = conn.transaction()?;
            tx.execute(
                "INSERT INTO runs (started_unix_ms) VALUES (?1)",
                params![now_unix_ms],
            )?;
            let run = tx.last_insert_rowid();
            let lost = schema::unfinished_calls(&tx, run)?;
            let mut recovered = Vec::with_capacity(lost.len());
            for (old_run, call) in &lost {
                let last_heard = [
                    call.offered_unix_ms,
                    call.queued_unix_ms,
                    Some(call.arrived_unix_ms),
                ]
                .into_iter()
                .flatten()
                .max()
                .unwrap_or(call.arrived_unix_ms);
                let item = CallbackRecord {
                    call_id: call.call_id,
                    class: call.class,
                    caller: call.caller.clone(),
                    callback_number: call.callback_number.clone(),
                    location_json: call.location_json.clone(),
                    arrived_unix_ms: call.arrived_unix_ms,
                    abandoned_unix_ms: last_heard,
                    offers: call.offers,
                };
                schema::upsert_callback(&tx, *old_run, &item, CallbackOrigin::Recovered)?;
                tx.execute(
                    "UPDATE calls SET state = 'lost', outcome = 'process-died' WHERE run = ?1 AND call_id = ?2",
                    params![old_run, schema::i64_of(call.call_id)],
                )?;
                let id: i64 = tx.query_row(
                    "SELECT id FROM callbacks WHERE run = ?1 AND call_id = ?2",
                    params![old_run, schema::i64_of(call.call_id)],
                    |r| r.get(0),
                )?;
                if let Some(row) = schema::callback_by_id(&tx, id)? {
                    recovered.push(row);
                }
            }
            tx.execute(
                "UPDATE runs SET recovered_calls = ?2 WHERE run = ?1",
                params![run, i64::try_from(recovered.len()).unwrap_or(i64::MAX)],
            )?;
            let open_callbacks = schema::callbacks(&tx, true, MAX_OPEN_CALLBACKS)?;
            tx.commit()?;
            Recovery {
                run,
                recovered,
                open_callbacks,
            }
        };

        let (normal_tx, normal_rx) = crossbeam_channel::bounded(config.channel_depth);
        let (emergency_tx, emergency_rx) =
            crossbeam_channel::bounded(config.emergency_channel_depth);
        let shared = Arc::new(Shared::default());
        let writer = Writer {
            conn,
            run: recovery.run,
            normal: normal_rx,
            emergency: emergency_rx,
            shared: shared.clone(),
            commit_interval: Duration::from_millis(config.commit_interval_ms),
            gather: Duration::from_millis(config.gather_ms),
            max_batch: config.max_batch,
        };
        let handle = std::thread::Builder::new()
            .name("journal-writer".into())
            .spawn(move || writer.run())
            .map_err(StoreError::Thread)?;
        Ok((
            Journal {
                normal: Some(normal_tx),
                emergency: Some(emergency_tx),
                shared,
                last_seq: [0, 0],
                run: recovery.run,
                path,
                writer: Some(handle),
            },
            recovery,
        ))
    }

    /// The run this process writes as.
    pub fn run(&self) -> i64 {
        self.run
    }

    /// Path of the database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Hands `record` to the writer without blocking; emergency-class records take the
    /// emergency lane.
    ///
    /// # Errors
    /// [`RecordError::Full`] / [`RecordError::Stopped`]: the record was dropped and
    /// counted in [`Journal::dropped`].
    pub fn record(&mut self, record: JournalRecord) -> Result<Ticket, RecordError> {
        let lane = if record.is_emergency() {
            EMERGENCY
        } else {
            NORMAL
        };
        let sender = if lane == EMERGENCY {
            &self.emergency
        } else {
            &self.normal
        };
        let Some(sender) = sender else {
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            return Err(RecordError::Stopped);
        };
        let seq = self.last_seq[lane] + 1;
        match sender.try_send(Msg { lane, seq, record }) {
            Ok(()) => {
                self.last_seq[lane] = seq;
                Ok(Ticket { lane, seq })
            }
            Err(e) => {
                self.shared.dropped.fetch_add(1, Ordering::Relaxed);
                Err(match e {
                    TrySendError::Full(_) => RecordError::Full,
                    TrySendError::Disconnected(_) => RecordError::Stopped,
                })
            }
        }
    }

    /// Records dropped because a channel was full or the writer had stopped.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// Transactions committed.
    pub fn commits(&self) -> u64 {
        self.shared.commits.load(Ordering::Relaxed)
    }

    /// Records written (committed).
    pub fn written(&self) -> u64 {
        self.shared.written.load(Ordering::Relaxed)
    }

    /// Records SQLite refused (counted, logged by the integrator; the writer goes on).
    pub fn failed(&self) -> u64 {
        self.shared.failed.load(Ordering::Relaxed)
    }

    /// `true` when the record behind `ticket` has been committed.
    pub fn is_durable(&self, ticket: Ticket) -> bool {
        self.shared.committed.lock()[ticket.lane] >= ticket.seq
    }

    /// Waits (condition variable, no polling) until the record behind `ticket` is
    /// committed or `timeout` passes; `true` when it is durable. Blocks: tests and
    /// shutdown only, never on the call path. The writer commits on its own (at once when
    /// idle, within `commit_interval_ms` under load); waiting does not hurry it.
    pub fn wait_durable(&self, ticket: Ticket, timeout: Duration) -> bool {
        self.wait_until(|c| c[ticket.lane] >= ticket.seq, timeout)
    }

    /// Waits up to `timeout` until every record accepted so far is committed. Blocks:
    /// for tests and shutdown.
    pub fn flush(&self, timeout: Duration) -> bool {
        let target = self.last_seq;
        self.wait_until(|c| c[0] >= target[0] && c[1] >= target[1], timeout)
    }

    fn wait_until(&self, done: impl Fn(&[u64; 2]) -> bool, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut committed = self.shared.committed.lock();
        while !done(&committed) {
            if self
                .shared
                .committed_cv
                .wait_until(&mut committed, deadline)
                .timed_out()
            {
                return done(&committed);
            }
        }
        true
    }

    /// Clean shutdown: closes the channels, lets the writer commit what it holds and
    /// joins it.
    pub fn shutdown(mut self) {
        self.close();
    }

    fn close(&mut self) {
        self.normal = None;
        self.emergency = None;
        if let Some(h) = self.writer.take() {
            let _ = h.join();
        }
    }

    /// A read-only connection for the API and tests (WAL readers never block the writer).
    ///
    /// # Errors
    /// [`StoreError::Sqlite`] when the database cannot be opened.
    pub fn reader(&self) -> Result<JournalReader, StoreError> {
        JournalReader::open(&self.path)
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        self.close();
    }
}

// === impl JournalReader ===

/// A read-only view of the journal (its own SQLite connection).
pub struct JournalReader {
    conn: Mutex<Connection>,
}

impl std::fmt::Debug for JournalReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JournalReader").finish_non_exhaustive()
    }
}

impl JournalReader {
    /// Opens `path` read-only.
    ///
    /// # Errors
    /// [`StoreError::Sqlite`].
    pub fn open(path: &Path) -> Result<JournalReader, StoreError> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(Duration::from_secs(5))?;
        Ok(JournalReader {
            conn: Mutex::new(conn),
        })
    }

    /// Callback items oldest first (only open ones when `open_only`), at most `limit`.
    ///
    /// # Errors
    /// [`StoreError::Sqlite`].
    pub fn callbacks(&self, open_only: bool, limit: usize) -> Result<Vec<CallbackRow>, StoreError> {
        schema::callbacks(&self.conn.lock(), open_only, limit)
    }

    /// The newest `limit` calls of all runs, newest first, as `(run, record)`.
    ///
    /// # Errors
    /// [`StoreError::Sqlite`].
    pub fn recent_calls(&self, limit: usize) -> Result<Vec<(i64, CallRecord)>, StoreError> {
        schema::recent_calls(&self.conn.lock(), limit)
    }
}

// === the writer thread ===

struct Writer {
    conn: Connection,
    run: i64,
    normal: Receiver<Msg>,
    emergency: Receiver<Msg>,
    shared: Arc<Shared>,
    commit_interval: Duration,
    gather: Duration,
    max_batch: usize,
}

impl Writer {
    fn run(mut self) {
        let mut stashed: Option<Msg> = None;
        loop {
            // Wait for the first message of a batch.
            if stashed.is_none() && self.emergency.is_empty() && self.normal.is_empty() {
                let mut sel = Select::new();
                let e = sel.recv(&self.emergency);
                let _n = sel.recv(&self.normal);
                let op = sel.select();
                let rx = if op.index() == e {
                    &self.emergency
                } else {
                    &self.normal
                };
                match op.recv(rx) {
                    Ok(m) => stashed = Some(m),
                    Err(_) => {
                        if self.emergency.is_empty() && self.normal.is_empty() {
                            return; // both closed (they close together) and drained
                        }
                    }
                }
            }
            let started = Instant::now();
            let tx = match self.conn.transaction() {
                Ok(tx) => tx,
                Err(_) => {
                    self.shared.failed.fetch_add(1, Ordering::Relaxed);
                    return;
                }
            };
            let mut batch = 0usize;
            let mut max_seq = [0u64; 2];
            loop {
                // Emergency lane first, then the normal lane. The message that woke the
                // writer (`stashed`) goes first on its own lane, so each lane stays FIFO
                // (a call's records all travel on one lane, its class's).
                let msg = if stashed.as_ref().is_some_and(|m| m.lane == EMERGENCY) {
                    stashed.take()
                } else {
                    self.emergency
                        .try_recv()
                        .ok()
                        .or_else(|| stashed.take())
                        .or_else(|| self.normal.try_recv().ok())
                };
                let Some(msg) = msg else {
                    // Dry: wait a little for more (group commit), then commit.
                    let left = self.gather.saturating_sub(started.elapsed());
                    if left.is_zero() {
                        break;
                    }
                    let mut sel = Select::new();
                    let e = sel.recv(&self.emergency);
                    let _n = sel.recv(&self.normal);
                    let Ok(op) = sel.select_timeout(left) else {
                        break;
                    };
                    let rx = if op.index() == e {
                        &self.emergency
                    } else {
                        &self.normal
                    };
                    match op.recv(rx) {
                        Ok(m) => {
                            stashed = Some(m);
                            continue;
                        }
                        Err(_) => break,
                    }
                };
                max_seq[msg.lane] = max_seq[msg.lane].max(msg.seq);
                if apply(&tx, self.run, &msg.record).is_err() {
                    self.shared.failed.fetch_add(1, Ordering::Relaxed);
                } else {
                    batch += 1;
                }
                if batch >= self.max_batch || started.elapsed() >= self.commit_interval {
                    break;
                }
            }
            if tx.commit().is_err() {
                // The whole batch was rolled back: count it as failed.
                self.shared
                    .failed
                    .fetch_add(batch as u64, Ordering::Relaxed);
                continue;
            }
            self.shared.commits.fetch_add(1, Ordering::Relaxed);
            self.shared
                .written
                .fetch_add(batch as u64, Ordering::Relaxed);
            let mut committed = self.shared.committed.lock();
            for lane in [NORMAL, EMERGENCY] {
                committed[lane] = committed[lane].max(max_seq[lane]);
            }
            drop(committed);
            self.shared.committed_cv.notify_all();
        }
    }
}

fn apply(tx: &Connection, run: i64, rec: &JournalRecord) -> rusqlite::Result<()> {
    match rec {
        JournalRecord::Call(c) => schema::upsert_call(tx, run, c),
        JournalRecord::Callback(c) => {
            schema::upsert_callback(tx, run, c, CallbackOrigin::Abandoned)
        }
        JournalRecord::CallbackDone {
            call_id,
            done_unix_ms,
        } => schema::callback_done_by_call(tx, run, *call_id, *done_unix_ms).map(|_| ()),
        JournalRecord::CallbackDoneById { id, done_unix_ms } => {
            schema::callback_done_by_id(tx, *id, *done_unix_ms).map(|_| ())
        }
    }
}
