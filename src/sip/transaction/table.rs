//! The transaction table: owns every live transaction, matches incoming messages to them by
//! key (RFC 3261 §17.1.3, §17.2.3), runs their timers from one heap, collects their outputs
//! and drops them when they reach Terminated (§17.1.1.2: "MUST be destroyed immediately").
//! Sans-IO like the machines: time is an input, a single `poll_timeout` is the output.
//!
//! Timers: each transaction's next deadline sits in a binary heap; a deadline that changed
//! leaves a stale heap entry that is skipped when popped (lazy deletion). `poll_timeout` is
//! O(1) and a timer O(log n), so 100,000 queued calls (each an INVITE server transaction in
//! Proceeding) cost nothing per tick.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::time::Instant;

use crate::sharded::ShardedMap;

use super::{
    ClientEvent, ClientKey, InviteClient, InviteServer, NonInviteClient, NonInviteServer,
    ServerEvent, ServerKey, TransactionError,
};

/// A client transaction of either kind.
#[derive(Debug, Clone)]
pub enum ClientTransaction<M> {
    /// INVITE client (Figure 5).
    Invite(InviteClient<M>),
    /// Non-INVITE client (Figure 6).
    NonInvite(NonInviteClient<M>),
}

/// A server transaction of either kind.
#[derive(Debug, Clone)]
pub enum ServerTransaction<M> {
    /// INVITE server (Figure 7).
    Invite(InviteServer<M>),
    /// Non-INVITE server (Figure 8).
    NonInvite(NonInviteServer<M>),
}

/// Which transaction an output belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TxKey {
    /// A client transaction.
    Client(ClientKey),
    /// A server transaction.
    Server(ServerKey),
}

/// An event from a transaction in the table, for the TU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxEvent<M> {
    /// From a client transaction.
    Client(ClientEvent<M>),
    /// From a server transaction.
    Server(ServerEvent<M>),
}

/// What [`TransactionTable::handle_request`] did with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestMatch {
    /// It matched a live server transaction, which absorbed it (a retransmission, or an
    /// ACK for a non-2xx, or — RFC 6026 — an ACK passed up as [`ServerEvent::Ack`]).
    Absorbed,
    /// No transaction: a new request. The caller creates a server transaction with
    /// [`TransactionTable::insert_server`] and passes the request to the TU; an ACK with
    /// no transaction belongs to the dialog layer (ACK for a 2xx, §13.2.2.4).
    New,
}

/// Why the table refused an operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TableError {
    /// The table holds `limits.max_transactions` transactions already.
    #[error("transaction table is full ({0} transactions)")]
    Full(usize),
    /// A transaction with this key already exists.
    #[error("a transaction with this key already exists")]
    Exists,
    /// No live transaction has this key.
    #[error("no transaction with this key")]
    NotFound,
    /// The transaction refused the response.
    #[error(transparent)]
    Transaction(#[from] TransactionError),
    /// A response was sent on a non-matching kind (e.g. `send_response` on a client key).
    #[error("wrong transaction kind for this operation")]
    WrongKind,
}

enum Tx<M> {
    Client(ClientTransaction<M>),
    Server(ServerTransaction<M>),
}

struct Entry<M> {
    key: TxKey,
    /// A secondary lookup key for server transactions (see `set_alias`).
    alias: Option<String>,
    tx: Tx<M>,
    /// The deadline currently in the heap for this entry, if any.
    scheduled: Option<Instant>,
}

/// All live transactions of one endpoint, generic over the message type `M`.
pub struct TransactionTable<M> {
    max: usize,
    next_id: u64,
    // Sharded: with ~130,000 live transactions at 1,000 calls/s (most waiting out Timer J/K/L/M),
    // one doubling of a plain HashMap stalled the engine for 10–40 ms (see crate::sharded).
    clients: ShardedMap<ClientKey, u64>,
    servers: ShardedMap<ServerKey, u64>,
    aliases: ShardedMap<String, u64>,
    /// Table-assigned ids: a one-multiply hash (not network-chosen). Boxed: an entry is
    /// ~460 octets, and a shard resize moves only the pointers.
    entries: crate::queue::ShardedIdMap<u64, Box<Entry<M>>>,
    heap: BinaryHeap<Reverse<(Instant, u64)>>,
    transmits: VecDeque<(TxKey, M)>,
    events: VecDeque<(TxKey, TxEvent<M>)>,
}

impl<M> std::fmt::Debug for TransactionTable<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransactionTable")
            .field("len", &self.entries.len())
            .field("max", &self.max)
            .field("heap", &self.heap.len())
            .finish_non_exhaustive()
    }
}

impl<M: Clone> TransactionTable<M> {
    /// An empty table holding at most `max_transactions` (config `limits.max_transactions`).
    pub fn new(max_transactions: usize) -> Self {
        TransactionTable {
            max: max_transactions,
            next_id: 0,
            clients: ShardedMap::new(),
            servers: ShardedMap::new(),
            aliases: ShardedMap::new(),
            entries: crate::queue::ShardedIdMap::default(),
            heap: BinaryHeap::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// Live transactions.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// `true` when no transaction is live.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds a client transaction just created (its request is already queued inside it).
    ///
    /// Errors: [`TableError::Full`], [`TableError::Exists`].
    pub fn insert_client(
        &mut self,
        key: ClientKey,
        tx: ClientTransaction<M>,
    ) -> Result<(), TableError> {
        self.check_room()?;
        if self.clients.contains_key(&key) {
            return Err(TableError::Exists);
        }
        let id = self.alloc(TxKey::Client(key.clone()), Tx::Client(tx));
        self.clients.insert(key, id);
        self.after_input(id);
        Ok(())
    }

    /// Adds a server transaction for a request that [`TransactionTable::handle_request`]
    /// reported as [`RequestMatch::New`].
    ///
    /// Errors: [`TableError::Full`] (answer statelessly: 503 for non-emergency traffic),
    /// [`TableError::Exists`].
    pub fn insert_server(
        &mut self,
        key: ServerKey,
        tx: ServerTransaction<M>,
    ) -> Result<(), TableError> {
        self.check_room()?;
        if self.servers.contains_key(&key) {
            return Err(TableError::Exists);
        }
        let id = self.alloc(TxKey::Server(key.clone()), Tx::Server(tx));
        self.servers.insert(key, id);
        self.after_input(id);
        Ok(())
    }

    /// Routes a received request (RFC 3261 §17.2.3). `key` is built from the request's top
    /// Via and method ([`ServerKey::new`], which maps ACK to INVITE); `method` is the
    /// request's own method, so an ACK is told apart from an INVITE retransmission.
    pub fn handle_request(
        &mut self,
        now: Instant,
        key: &ServerKey,
        method: &str,
        request: M,
    ) -> RequestMatch {
        let Some(&id) = self.servers.get(key) else {
            return RequestMatch::New;
        };
        if let Some(Entry {
            tx: Tx::Server(tx), ..
        }) = self.entries.get_mut(&id).map(Box::as_mut)
        {
            match tx {
                ServerTransaction::Invite(s) if method == "ACK" => s.handle_ack(now, request),
                ServerTransaction::Invite(s) => s.handle_invite(now),
                ServerTransaction::NonInvite(s) => s.handle_request(now),
            }
        }
        self.after_input(id);
        RequestMatch::Absorbed
    }

    /// Routes a received response (RFC 3261 §17.1.3) to its client transaction. Returns
    /// `false` if none matches: the response is stray and goes to the core (for a 2xx to
    /// an INVITE, the dialog layer; otherwise it is dropped).
    ///
    /// `make_ack` is used only by an INVITE client receiving its first 300–699.
    ///
    /// Errors: [`TableError::Transaction`] for a status outside 100–699.
    pub fn handle_response(
        &mut self,
        now: Instant,
        key: &ClientKey,
        status: u16,
        response: M,
        make_ack: impl FnOnce() -> M,
    ) -> Result<bool, TableError> {
        let Some(&id) = self.clients.get(key) else {
            return Ok(false);
        };
        let result = match self.entries.get_mut(&id).map(Box::as_mut) {
            Some(Entry {
                tx: Tx::Client(ClientTransaction::Invite(c)),
                ..
            }) => c.handle_response(now, status, response, make_ack),
            Some(Entry {
                tx: Tx::Client(ClientTransaction::NonInvite(c)),
                ..
            }) => c.handle_response(now, status, response),
            _ => return Ok(false),
        };
        self.after_input(id);
        result.map(|()| true).map_err(TableError::from)
    }

    /// The TU sends a response on a server transaction.
    ///
    /// Errors: [`TableError::NotFound`] (e.g. the transaction already terminated),
    /// [`TableError::Transaction`] if the state forbids the response.
    pub fn send_response(
        &mut self,
        now: Instant,
        key: &ServerKey,
        status: u16,
        response: M,
    ) -> Result<(), TableError> {
        let id = *self.servers.get(key).ok_or(TableError::NotFound)?;
        let result = match self.entries.get_mut(&id).map(Box::as_mut) {
            Some(Entry {
                tx: Tx::Server(ServerTransaction::Invite(s)),
                ..
            }) => s.send_response(now, status, response),
            Some(Entry {
                tx: Tx::Server(ServerTransaction::NonInvite(s)),
                ..
            }) => s.send_response(now, status, response),
            _ => return Err(TableError::WrongKind),
        };
        self.after_input(id);
        result.map_err(TableError::from)
    }

    /// The INVITE server transaction a CANCEL with key `cancel_key` targets, if it is live
    /// and still cancellable (no final response yet; RFC 3261 §9.2). The TU answers the
    /// CANCEL with 200 and, if this is `true`, sends 487 on the INVITE.
    pub fn is_cancellable(&self, cancel_key: &ServerKey) -> bool {
        let target = cancel_key.cancel_target();
        self.servers
            .get(&target)
            .and_then(|id| self.entries.get(id))
            .is_some_and(
                |e| matches!(&e.tx, Tx::Server(ServerTransaction::Invite(s)) if s.is_cancellable()),
            )
    }

    /// Registers a secondary key for the live server transaction `key`, removed with it.
    ///
    /// Meant for CANCEL matching with peers that break RFC 3261 §9.1: a CANCEL must carry
    /// the INVITE's top Via (same branch), but some IMS elements send one with a fresh
    /// branch (fixtures/sip/carrier-traces 14 and 16: same hop, same Call-ID, different
    /// branch). Register an INVITE under e.g. `Call-ID + From tag + CSeq number +
    /// Request-URI` (the RFC 2543 matching fields) and look an unmatched CANCEL up with
    /// [`TransactionTable::server_by_alias`] before answering 481.
    ///
    /// Returns `false` if `key` is not live or `alias` is taken by another transaction.
    pub fn set_alias(&mut self, key: &ServerKey, alias: &str) -> bool {
        let Some(&id) = self.servers.get(key) else {
            return false;
        };
        if self.aliases.get(alias).is_some_and(|&other| other != id) {
            return false;
        }
        if let Some(e) = self.entries.get_mut(&id) {
            if let Some(old) = e.alias.replace(alias.to_owned()) {
                self.aliases.remove(&old);
            }
            self.aliases.insert(alias.to_owned(), id);
        }
        true
    }

    /// The key of the live server transaction registered under `alias`.
    pub fn server_by_alias(&self, alias: &str) -> Option<&ServerKey> {
        match &self.entries.get(self.aliases.get(alias)?)?.key {
            TxKey::Server(k) => Some(k),
            TxKey::Client(_) => None,
        }
    }

    /// The transport failed to deliver for the transaction `key` (§17.1.4, §17.2.4).
    pub fn handle_transport_error(&mut self, now: Instant, key: &TxKey) {
        let id = match key {
            TxKey::Client(k) => self.clients.get(k),
            TxKey::Server(k) => self.servers.get(k),
        };
        let Some(&id) = id else { return };
        if let Some(e) = self.entries.get_mut(&id) {
            match &mut e.tx {
                Tx::Client(ClientTransaction::Invite(c)) => c.handle_transport_error(now),
                Tx::Client(ClientTransaction::NonInvite(c)) => c.handle_transport_error(now),
                Tx::Server(ServerTransaction::Invite(s)) => s.handle_transport_error(now),
                Tx::Server(ServerTransaction::NonInvite(s)) => s.handle_transport_error(now),
            }
        }
        self.after_input(id);
    }

    /// Fires every transaction timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(&Reverse((at, id))) = self.heap.peek() {
            if at > now {
                break;
            }
            self.heap.pop();
            let Some(e) = self.entries.get_mut(&id) else {
                continue; // terminated and removed
            };
            if e.scheduled != Some(at) {
                continue; // stale entry: the deadline moved
            }
            e.scheduled = None;
            match &mut e.tx {
                Tx::Client(ClientTransaction::Invite(c)) => c.handle_timeout(now),
                Tx::Client(ClientTransaction::NonInvite(c)) => c.handle_timeout(now),
                Tx::Server(ServerTransaction::Invite(s)) => s.handle_timeout(now),
                Tx::Server(ServerTransaction::NonInvite(s)) => s.handle_timeout(now),
            }
            self.after_input(id);
        }
    }

    /// The earliest instant [`TransactionTable::handle_timeout`] must be called. May be
    /// earlier than needed (a stale heap entry); calling early is harmless.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _))| *at)
    }

    /// The next message to send, with its transaction.
    pub fn poll_transmit(&mut self) -> Option<(TxKey, M)> {
        self.transmits.pop_front()
    }

    /// The next event for the TU, with its transaction. A transaction's
    /// [`ClientEvent::Terminated`] / [`ServerEvent::Terminated`] is its last event; it has
    /// been removed from the table by then.
    pub fn poll_event(&mut self) -> Option<(TxKey, TxEvent<M>)> {
        self.events.pop_front()
    }

    /// The live server transaction with `key`.
    pub fn server(&self, key: &ServerKey) -> Option<&ServerTransaction<M>> {
        match &self.entries.get(self.servers.get(key)?)?.tx {
            Tx::Server(s) => Some(s),
            Tx::Client(_) => None,
        }
    }

    /// The live client transaction with `key`.
    pub fn client(&self, key: &ClientKey) -> Option<&ClientTransaction<M>> {
        match &self.entries.get(self.clients.get(key)?)?.tx {
            Tx::Client(c) => Some(c),
            Tx::Server(_) => None,
        }
    }

    fn check_room(&self) -> Result<(), TableError> {
        if self.entries.len() >= self.max {
            Err(TableError::Full(self.max))
        } else {
            Ok(())
        }
    }

    fn alloc(&mut self, key: TxKey, tx: Tx<M>) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.entries.insert(
            id,
            Box::new(Entry {
                key,
                alias: None,
                tx,
                scheduled: None,
            }),
        );
        id
    }

    /// After any input: drain the transaction's outputs, reschedule its timer, and remove
    /// it if it terminated.
    fn after_input(&mut self, id: u64) {
        let Some(e) = self.entries.get_mut(&id) else {
            return;
        };
        let (next, terminated) = match &mut e.tx {
            Tx::Client(ClientTransaction::Invite(c)) => {
                drain(&e.key, &mut self.transmits, || c.poll_transmit());
                drain_events(&e.key, &mut self.events, || {
                    c.poll_event().map(TxEvent::Client)
                });
                (c.poll_timeout(), c.is_terminated())
            }
            Tx::Client(ClientTransaction::NonInvite(c)) => {
                drain(&e.key, &mut self.transmits, || c.poll_transmit());
                drain_events(&e.key, &mut self.events, || {
                    c.poll_event().map(TxEvent::Client)
                });
                (c.poll_timeout(), c.is_terminated())
            }
            Tx::Server(ServerTransaction::Invite(s)) => {
                drain(&e.key, &mut self.transmits, || s.poll_transmit());
                drain_events(&e.key, &mut self.events, || {
                    s.poll_event().map(TxEvent::Server)
                });
                (s.poll_timeout(), s.is_terminated())
            }
            Tx::Server(ServerTransaction::NonInvite(s)) => {
                drain(&e.key, &mut self.transmits, || s.poll_transmit());
                drain_events(&e.key, &mut self.events, || {
                    s.poll_event().map(TxEvent::Server)
                });
                (s.poll_timeout(), s.is_terminated())
            }
        };
        if terminated {
            if let Some(e) = self.entries.remove(&id) {
                if let Some(alias) = e.alias {
                    self.aliases.remove(&alias);
                }
                match e.key {
                    TxKey::Client(k) => self.clients.remove(&k),
                    TxKey::Server(k) => self.servers.remove(&k),
                };
            }
            return;
        }
        if next != e.scheduled {
            e.scheduled = next;
            if let Some(at) = next {
                self.heap.push(Reverse((at, id)));
            }
        }
    }
}

fn drain<M>(key: &TxKey, out: &mut VecDeque<(TxKey, M)>, mut next: impl FnMut() -> Option<M>) {
    while let Some(m) = next() {
        out.push_back((key.clone(), m));
    }
}

fn drain_events<M>(
    key: &TxKey,
    out: &mut VecDeque<(TxKey, TxEvent<M>)>,
    mut next: impl FnMut() -> Option<TxEvent<M>>,
) {
    while let Some(ev) = next() {
        out.push_back((key.clone(), ev));
    }
}
