//! The tokio runtime: the thin I/O shell that drives the sans-IO [`crate::engine`]
//! (docs/DESIGN.md §2). It binds the SIP transports (RFC 3261 §18: UDP and TCP), feeds every
//! received message to the engine, sends what the engine asks to send, and calls the
//! engine back at the instant it asks for. It decides nothing about calls.
//!
//! # Shape
//!
//! ```text
//!  UDP sockets ───── try_recv_from (engine task reads them itself) ─┐
//!  TCP conn ──► bounded input queue (send waits: TCP flow control) ──┴► engine task
//!       engine task ──► UDP try_send_to, TCP writer queue per connection;
//!                   └─ sleep_until(engine.poll_timeout())
//! ```
//!
//! UDP has no task hop: the engine task waits until a socket is readable and reads up to
//! 64 datagrams into one reused buffer, answering each before the next (see `udp`).
//!
//! One engine task owns the [`Engine`] and the TCP connection table, so there is no lock
//! per call. Responses go where the engine's RFC 3261 §18.2.2 logic (`received`, `rport`)
//! says; over TCP the runtime reuses the open connection to that address (inbound ones
//! included) and opens one only when none exists. Time is
//! `tokio::time::Instant::now().into_std()`, so `tokio::time::pause()` gives virtual time.
//!
//! # Use
//!
//! [`Server::bind`] binds every `sip.listen` address (port 0 allowed; [`Server::local_addrs`]
//! tells the ports), then [`Server::run`] serves until the shutdown future completes (see
//! [`shutdown_signal`] for Ctrl-C / SIGTERM) and drains: listeners stop, queued TCP writes
//! are flushed for up to [`SHUTDOWN_FLUSH`]. A [`Handle`] asks the running engine for a
//! [`Snapshot`] or applies a supervisor [`Command`].
//!
//! # Observability, API and journal (issue 6)
//! [`Server::bind`] opens the call journal when `data_dir` is set — **before** any call is
//! taken — so calls left waiting by a dead process are on the callback list from the first
//! moment. [`Server::bind_http`] binds the HTTP API (`crate::http`) on `http.listen` (or
//! another address); `answerpoint run` calls it, in-process tests usually do not. The engine
//! task feeds every engine event to an [`Observer`] (KPIs, metrics, journal, event stream,
//! per-call `tracing` span), publishes the API's views at most every 100 ms, and answers API
//! commands between two inputs.
//!
//! # Graceful shutdown
//! When the shutdown future completes the engine task does not stop at once: it calls
//! [`Engine::begin_shutdown`] and keeps serving for up to `shutdown_grace_s` so queued and
//! ringing calls can still be answered, refusing new non-emergency calls with 503. Then every
//! remaining call gets 503 + Retry-After and goes on the callback list (journaled with its
//! number and location, one log line each), the task waits up to [`SHUTDOWN_FLUSH`] for the
//! carrier's ACKs, and the journal is flushed before [`Server::run`] returns
//! (`engine/shutdown.rs` has the SIP reasoning).

pub mod cpu_latency;
mod observe;
pub mod rxstamp;
pub mod sched;
mod tcp;
pub(crate) mod udp;

pub use observe::{Observer, JOURNAL_ID_BASE, LIVE_VIEWS_INTERVAL, PUBLISH_INTERVAL};

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{broadcast, mpsc, oneshot, watch, Semaphore};

use crate::config::{Config, Listen, SipTransport};
use crate::engine::{Command, CommandError, Engine, Received, Snapshot, Transmit, Transport};
use crate::http::{ApiRequest, ApiSettings, EngineHandle, SharedViews, StreamEvent};
use crate::store::{CallbackRow, Journal, JournalConfig, Recovery};

/// Depth of the queue from the transport tasks to the engine task, messages. When it is
/// full, UDP datagrams are dropped (and counted in [`RuntimeStats::udp_dropped_queue_full`])
/// rather than blocking a socket reader; TCP readers wait (flow control on that peer only).
pub const INPUT_QUEUE_DEPTH: usize = 8192;
/// Depth of the supervisor command queue ([`Handle`]).
const CONTROL_QUEUE_DEPTH: usize = 64;
/// Most inputs taken from the queue before the engine's outputs are flushed.
const INPUT_BATCH: usize = 64;
/// How long shutdown waits for TCP connections to write what is queued and close, for the
/// carrier's ACKs of the final 503s, and for the journal's last commit (each).
pub const SHUTDOWN_FLUSH: Duration = Duration::from_secs(2);
/// Depth of the API command queue (`crate::http::EngineHandle`).
const API_QUEUE_DEPTH: usize = 64;
/// How far a slow event-stream client may lag before it misses events.
const EVENT_STREAM_DEPTH: usize = 4096;

/// Why the runtime could not start or answer.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// A `sip.listen` address could not be bound (in use, not local, no permission).
    #[error("cannot bind SIP {listen}: {source}")]
    Bind {
        /// The configured listen entry.
        listen: Listen,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The engine task has ended (shutdown), so a [`Handle`] request cannot be served.
    #[error("the engine task has stopped")]
    Stopped,
    /// The call journal in `data_dir` could not be opened or recovered.
    #[error("cannot open the call journal: {0}")]
    Journal(#[from] crate::store::StoreError),
    /// The HTTP API address could not be bound.
    #[error("cannot bind HTTP {addr}: {source}")]
    BindHttp {
        /// The address.
        addr: SocketAddr,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The `[http]` settings cannot be served (non-loopback without a token).
    #[error("http: {0}")]
    Http(#[from] crate::http::ApiSettingsError),
    /// The Prometheus recorder could not be installed.
    #[error("metrics: {0}")]
    Metrics(String),
}

/// Counts of what the runtime dropped or refused since start; all are totals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RuntimeStats {
    /// UDP datagrams dropped because the input queue was full. Always 0 now that the
    /// engine task reads UDP itself; datagrams waiting beyond the socket's receive buffer
    /// are dropped by the kernel (`/proc/net/udp` `drops`).
    pub udp_dropped_queue_full: u64,
    /// UDP receive errors (e.g. ICMP unreachable reported on the socket).
    pub udp_recv_errors: u64,
    /// UDP datagrams the engine asked to send that the socket refused.
    pub udp_send_errors: u64,
    /// TCP connections refused at `limits.max_tcp_connections` (inbound or outbound).
    pub tcp_rejected_limit: u64,
    /// Outgoing TCP connections that failed or timed out.
    pub tcp_connect_failures: u64,
    /// TCP streams closed because they could not be framed (RFC 3261 §18.3).
    pub tcp_bad_streams: u64,
    /// TCP messages whose body was over the limits and was skipped (the header section
    /// went to the engine: an emergency INVITE queued, anything else answered 413).
    pub tcp_bodies_dropped: u64,
    /// Messages dropped because a TCP connection's write queue was full.
    pub tcp_write_dropped: u64,
}

/// Shared counters behind [`RuntimeStats`], plus the TCP connection id source.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    udp_dropped_queue_full: AtomicU64,
    udp_recv_errors: AtomicU64,
    udp_send_errors: AtomicU64,
    tcp_rejected_limit: AtomicU64,
    tcp_connect_failures: AtomicU64,
    tcp_bad_streams: AtomicU64,
    tcp_bodies_dropped: AtomicU64,
    tcp_write_dropped: AtomicU64,
    next_conn_id: AtomicU64,
}

impl Counters {
    fn stats(&self) -> RuntimeStats {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        RuntimeStats {
            udp_dropped_queue_full: g(&self.udp_dropped_queue_full),
            udp_recv_errors: g(&self.udp_recv_errors),
            udp_send_errors: g(&self.udp_send_errors),
            tcp_rejected_limit: g(&self.tcp_rejected_limit),
            tcp_connect_failures: g(&self.tcp_connect_failures),
            tcp_bad_streams: g(&self.tcp_bad_streams),
            tcp_bodies_dropped: g(&self.tcp_bodies_dropped),
            tcp_write_dropped: g(&self.tcp_write_dropped),
        }
    }
}

/// What the transport tasks tell the engine task.
pub(crate) enum Input {
    /// One SIP message (a datagram, or one framed stream message).
    Message {
        transport: Transport,
        source: SocketAddr,
        local: SocketAddr,
        bytes: Vec<u8>,
    },
    /// The header section of a stream message whose body was over the limits and was
    /// discarded by the decoder (goes to [`Engine::handle_received_body_dropped`]).
    BodyDropped {
        transport: Transport,
        source: SocketAddr,
        local: SocketAddr,
        head: Vec<u8>,
        dropped: crate::sip::DroppedBody,
    },
    /// An inbound TCP connection from `peer`, writable through `writer`.
    TcpOpened {
        peer: SocketAddr,
        id: u64,
        writer: mpsc::Sender<Vec<u8>>,
    },
    /// TCP connection `id` to/from `peer` has ended (or could not be opened).
    TcpClosed { peer: SocketAddr, id: u64 },
}

/// Supervisor requests carried by a [`Handle`].
enum Control {
    Snapshot(oneshot::Sender<Snapshot>),
    Command(Box<Command>, oneshot::Sender<Result<(), CommandError>>),
}

/// A cloneable handle to a running [`Server`]: snapshots, commands, counters.
#[derive(Clone)]
pub struct Handle {
    control: mpsc::Sender<Control>,
    counters: Arc<Counters>,
}

impl Handle {
    /// The engine's read-only snapshot (calls, queue, handlers, callbacks), taken between
    /// two inputs. Errors: [`RuntimeError::Stopped`] once the server has shut down.
    pub async fn snapshot(&self) -> Result<Snapshot, RuntimeError> {
        let (tx, rx) = oneshot::channel();
        self.control
            .send(Control::Snapshot(tx))
            .await
            .map_err(|_| RuntimeError::Stopped)?;
        rx.await.map_err(|_| RuntimeError::Stopped)
    }

    /// Applies a supervisor command (e.g. a handler state change) and returns the engine's
    /// verdict. Errors: [`RuntimeError::Stopped`] once the server has shut down.
    pub async fn command(&self, cmd: Command) -> Result<Result<(), CommandError>, RuntimeError> {
        let (tx, rx) = oneshot::channel();
        self.control
            .send(Control::Command(Box::new(cmd), tx))
            .await
            .map_err(|_| RuntimeError::Stopped)?;
        rx.await.map_err(|_| RuntimeError::Stopped)
    }

    /// Drop and refusal counters so far.
    pub fn stats(&self) -> RuntimeStats {
        self.counters.stats()
    }
}

/// A bound, not yet running SIP server. See the module docs.
pub struct Server {
    config: Config,
    udp: Vec<(SocketAddr, Arc<UdpSocket>)>,
    tcp: Vec<(SocketAddr, TcpListener)>,
    control_tx: mpsc::Sender<Control>,
    control_rx: mpsc::Receiver<Control>,
    counters: Arc<Counters>,
    views: Arc<SharedViews>,
    events: broadcast::Sender<StreamEvent>,
    api_handle: EngineHandle,
    api_rx: mpsc::Receiver<ApiRequest>,
    journal: Option<(Journal, Recovery)>,
    http: Option<(SocketAddr, TcpListener, ApiSettings)>,
}

impl Server {
    /// Binds every `sip.listen` entry of the (already validated) `config`, in order.
    /// A UDP and a TCP entry on the same address with port 0 get the same port when it is
    /// free on both, as SIP servers usually share one port (RFC 3261 §18).
    ///
    /// Errors: [`RuntimeError::Bind`] naming the first entry that failed (nothing stays
    /// bound then).
    pub async fn bind(config: Config) -> Result<Server, RuntimeError> {
        let mut udp = Vec::new();
        let mut tcp = Vec::new();
        // Ports picked by the OS for port-0 entries, per IP, to offer to the other transport.
        let mut picked: HashMap<IpAddr, u16> = HashMap::new();
        for &listen in &config.sip.listen {
            let wanted = listen.addr;
            let shared = (wanted.port() == 0)
                .then(|| picked.get(&wanted.ip()).copied())
                .flatten();
            let bound = match shared {
                Some(port) => match bind_one(listen, SocketAddr::new(wanted.ip(), port)).await {
                    Ok(b) => Ok(b),
                    Err(_) => bind_one(listen, wanted).await,
                },
                None => bind_one(listen, wanted).await,
            };
            let bound = bound.map_err(|source| RuntimeError::Bind { listen, source })?;
            match bound {
                Bound::Udp(addr, s) => {
                    if wanted.port() == 0 {
                        picked.entry(addr.ip()).or_insert(addr.port());
                    }
                    udp.push((addr, Arc::new(s)));
                }
                Bound::Tcp(addr, l) => {
                    if wanted.port() == 0 {
                        picked.entry(addr.ip()).or_insert(addr.port());
                    }
                    tcp.push((addr, l));
                }
            }
        }
        // The journal before any call: recovery puts calls a dead process left waiting on
        // the callback list.
        let journal = match &config.data_dir {
            Some(dir) => {
                let opened = Journal::open(
                    &JournalConfig::new(dir),
                    observe_unix_ms(std::time::SystemTime::now()),
                )?;
                for r in &opened.1.recovered {
                    tracing::warn!(
                        journal_id = r.id,
                        run = r.run,
                        call = r.call_id,
                        caller = %r.caller,
                        callback_number = r.callback_number.as_deref().unwrap_or(""),
                        location = r.location_json.as_deref().unwrap_or("none"),
                        "recovered: call was waiting when the process died; on the callback list"
                    );
                }
                tracing::info!(
                    path = %opened.0.path().display(),
                    run = opened.0.run(),
                    recovered = opened.1.recovered.len(),
                    open_callbacks = opened.1.open_callbacks.len(),
                    "journal open"
                );
                Some(opened)
            }
            None => None,
        };
        let (control_tx, control_rx) = mpsc::channel(CONTROL_QUEUE_DEPTH);
        let (api_handle, api_rx) =
            EngineHandle::channel(API_QUEUE_DEPTH, ApiSettings::default().command_timeout);
        let (events, _) = broadcast::channel(EVENT_STREAM_DEPTH);
        let kpi = crate::kpi::Kpi::new(crate::kpi::KpiConfig::default())
            .map_err(|e| RuntimeError::Metrics(e.to_string()))?;
        Ok(Server {
            config,
            udp,
            tcp,
            control_tx,
            control_rx,
            counters: Arc::new(Counters::default()),
            views: Arc::new(SharedViews::new(kpi)),
            events,
            api_handle,
            api_rx,
            journal,
            http: None,
        })
    }

    /// Binds the HTTP API on `addr` (port 0 allowed) with the `[http]` settings of the
    /// config (token, AML key) and installs the process-wide Prometheus recorder; the API is
    /// served while [`Server::run`] runs. Returns the bound address.
    ///
    /// Errors: [`RuntimeError::Http`] for a non-loopback address without a bearer token,
    /// [`RuntimeError::BindHttp`], [`RuntimeError::Metrics`].
    pub async fn bind_http(&mut self, addr: SocketAddr) -> Result<SocketAddr, RuntimeError> {
        let settings = ApiSettings {
            listen: addr,
            ..ApiSettings::from_config(&self.config.http)
        };
        settings.validate()?;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| RuntimeError::BindHttp { addr, source })?;
        let bound = listener
            .local_addr()
            .map_err(|source| RuntimeError::BindHttp { addr, source })?;
        crate::http::metrics::install().map_err(|e| RuntimeError::Metrics(e.to_string()))?;
        self.http = Some((
            bound,
            listener,
            ApiSettings {
                listen: bound,
                ..settings
            },
        ));
        Ok(bound)
    }

    /// The HTTP API address, once [`Server::bind_http`] succeeded.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http.as_ref().map(|(a, _, _)| *a)
    }

    /// What the journal recovered at [`Server::bind`] (`None` when the journal is off).
    pub fn recovery(&self) -> Option<&Recovery> {
        self.journal.as_ref().map(|(_, r)| r)
    }

    /// The views the API serves and the KPI keeper (for in-process tests).
    pub fn views(&self) -> Arc<SharedViews> {
        self.views.clone()
    }

    /// The API's command handle (for in-process tests that skip HTTP).
    pub fn api_handle(&self) -> EngineHandle {
        self.api_handle.clone()
    }

    /// The bound addresses, in `sip.listen` order per transport (UDP first), with the
    /// ports the OS chose for port-0 entries.
    pub fn local_addrs(&self) -> Vec<Listen> {
        let udp = self.udp.iter().map(|(a, _)| Listen {
            transport: SipTransport::Udp,
            addr: *a,
        });
        let tcp = self.tcp.iter().map(|(a, _)| Listen {
            transport: SipTransport::Tcp,
            addr: *a,
        });
        udp.chain(tcp).collect()
    }

    /// A handle for snapshots and commands; valid until [`Server::run`] returns.
    pub fn handle(&self) -> Handle {
        Handle {
            control: self.control_tx.clone(),
            counters: self.counters.clone(),
        }
    }

    /// Serves until `shutdown` completes, then drains (see the module docs) and returns
    /// the final counters. The engine advertises the first bound address of each
    /// transport in Via and Contact. With `realtime_priority` set, the calling thread (the
    /// one that polls this future: run it on a current-thread runtime) is switched to
    /// `SCHED_FIFO` first ([`sched::set_realtime`]); with `cpu_latency_limit_us` set, the
    /// kernel's CPU latency QoS is held at that limit until this returns
    /// ([`cpu_latency::CpuLatencyLimit`]). Refusals are logged, not fatal.
    pub async fn run<F: Future<Output = ()>>(self, shutdown: F) -> RuntimeStats {
        let Server {
            config,
            udp,
            tcp,
            control_tx,
            mut control_rx,
            counters,
            views,
            events,
            api_handle,
            mut api_rx,
            journal,
            http,
        } = self;
        drop(control_tx);
        // Before any thread is started from here: they must not inherit the policy.
        if config.realtime_priority > 0 {
            match sched::set_realtime(config.realtime_priority) {
                Ok(()) => tracing::info!(
                    priority = config.realtime_priority,
                    "engine thread runs under SCHED_FIFO"
                ),
                Err(e) => tracing::warn!(
                    priority = config.realtime_priority,
                    error = %e,
                    "realtime_priority not applied (needs CAP_SYS_NICE or `ulimit -r`): \
                     the engine runs at normal priority"
                ),
            }
        }
        // Held until `run` returns: dropping it withdraws the request.
        let _cpu_latency =
            config.cpu_latency_limit_us.and_then(
                |limit_us| match cpu_latency::CpuLatencyLimit::hold(limit_us) {
                    Ok(held) => {
                        tracing::info!(limit_us, "idle CPUs held to the CPU latency limit");
                        Some(held)
                    }
                    Err(e) => {
                        tracing::warn!(
                            limit_us,
                            error = %e,
                            "cpu_latency_limit_us not applied (needs root and {}): idle CPUs \
                             may sleep and wake late",
                            cpu_latency::CPU_DMA_LATENCY
                        );
                        None
                    }
                },
            );
        let started_wall = std::time::SystemTime::now();
        let (journal, earlier): (Option<Journal>, Vec<CallbackRow>) = match journal {
            Some((j, r)) => (Some(j), r.open_callbacks),
            None => (None, Vec::new()),
        };
        let (views_for_http, events_for_http) = (views.clone(), events.clone());
        let (input_tx, mut input_rx) = mpsc::channel::<Input>(INPUT_QUEUE_DEPTH);
        let (stop_tx, stop_rx) = watch::channel(false);

        let mut engine = Engine::new(&config, now());
        if let Some((addr, _)) = udp.first() {
            engine.set_local_address(Transport::Udp, *addr);
        }
        if let Some((addr, _)) = tcp.first() {
            engine.set_local_address(Transport::Tcp, *addr);
        }

        let limits = crate::sip::Limits {
            max_message_bytes: config.limits.max_message_bytes,
            max_headers: config.limits.max_headers,
            // As in Engine::new: the body may use the whole configured message limit.
            max_body_bytes: config.limits.max_message_bytes,
            ..crate::sip::Limits::default()
        };
        let max_tcp = config.limits.max_tcp_connections;
        let permits = Arc::new(Semaphore::new(max_tcp));
        let ctx = tcp::ConnContext {
            input: input_tx.clone(),
            counters: counters.clone(),
            limits,
            stop: stop_rx.clone(),
        };
        for (_, socket) in &udp {
            udp::enlarge_recv_buffer(socket);
            if let Err(e) = rxstamp::enable(socket) {
                tracing::debug!(error = %e, "no kernel receive timestamps: read time used");
            }
        }
        // The engine task reads the UDP sockets itself (see `udp`).
        let udp_sockets: Vec<Arc<UdpSocket>> = udp.iter().map(|(_, s)| s.clone()).collect();
        let tcp_addrs: Vec<SocketAddr> = tcp.iter().map(|(a, _)| *a).collect();
        // limits.tcp_idle_timeout_s and the non-carrier share of connection slots.
        let accept_policy = tcp::AcceptPolicy::from_config(&config);
        for (addr, listener) in tcp {
            tokio::spawn(tcp::acceptor_with_policy(
                listener,
                addr,
                permits.clone(),
                ctx.clone(),
                accept_policy.clone(),
            ));
        }
        drop(input_tx);
        let bound: Vec<String> = udp
            .iter()
            .map(|(a, _)| format!("udp:{a}"))
            .chain(tcp_addrs.iter().map(|a| format!("tcp:{a}")))
            .collect();
        tracing::info!(listen = %bound.join(" "), summary = %config.summary(), "engine started");

        let observer = Observer::new(views, events, journal, earlier, started_wall);
        let mut core = Core {
            engine,
            udp,
            conns: HashMap::new(),
            ctx,
            inbound: udp::Inbound::default(),
            permits: permits.clone(),
            counters: counters.clone(),
            observer,
        };
        core.flush(std::time::Instant::now());
        core.observer.maybe_publish(&core.engine, true);
        // Serve HTTP only now that the first views are published (connections that came
        // earlier waited in the listen backlog): no request sees empty views.
        let mut http_task = None;
        let (http_stop_tx, http_stop_rx) = oneshot::channel::<()>();
        if let Some((addr, listener, settings)) = http {
            let metrics = crate::http::metrics::install().ok();
            match crate::http::ApiState::new(
                settings,
                views_for_http,
                api_handle,
                events_for_http,
                metrics.clone(),
            ) {
                Ok(state) => {
                    let app = crate::http::router(state);
                    tracing::info!(%addr, "http api listening");
                    http_task = Some(tokio::spawn(crate::http::serve(
                        listener,
                        app,
                        metrics,
                        async move {
                            let _ = http_stop_rx.await;
                        },
                    )));
                }
                Err(e) => tracing::error!(error = %e, "http api not served"),
            }
        }

        let grace = Duration::from_secs(u64::from(config.shutdown_grace_s));
        let mut sd: Option<crate::engine::Shutdown> = None;
        let mut linger_until: Option<std::time::Instant> = None;
        let mut publish_due: Option<std::time::Instant> = None;
        // Live views for the API (see observe::LIVE_VIEWS_INTERVAL): only when HTTP is served.
        let mut live_views_due = http_task
            .is_some()
            .then(|| now() + observe::LIVE_VIEWS_INTERVAL);
        tokio::pin!(shutdown);
        loop {
            let deadline = [
                core.engine.poll_timeout(),
                sd.as_ref().filter(|s| !s.is_finished()).map(|s| s.deadline),
                linger_until,
                publish_due
                    .map(|due| now() + due.saturating_duration_since(std::time::Instant::now())),
                live_views_due,
            ]
            .into_iter()
            .flatten()
            .min();
            let sleep_until = deadline
                .map(tokio::time::Instant::from_std)
                .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600));
            tokio::select! {
                biased;
                _ = &mut shutdown, if sd.is_none() => {
                    tracing::info!(grace_s = grace.as_secs(), "shutdown signal: draining");
                    sd = Some(core.engine.begin_shutdown(now(), grace));
                }
                Some(ctrl) = control_rx.recv() => core.control(ctrl),
                Some(req) = api_rx.recv() => {
                    let t = std::time::Instant::now();
                    core.observer.api(&mut core.engine, now(), req);
                    core.flush(t);
                }
                _ = tokio::time::sleep_until(sleep_until), if deadline.is_some() => {
                    let t = std::time::Instant::now();
                    core.engine.handle_timeout(now());
                    core.flush(t);
                }
                i = udp::readable(&udp_sockets), if !udp_sockets.is_empty() => {
                    core.read_udp(i);
                }
                input = input_rx.recv() => {
                    let Some(input) = input else { break };
                    core.input(input);
                    for _ in 1..INPUT_BATCH {
                        match input_rx.try_recv() {
                            Ok(i) => core.input(i),
                            Err(_) => break,
                        }
                    }
                }
            }
            if let Some(s) = sd.as_mut() {
                let t = std::time::Instant::now();
                if !s.is_finished() {
                    let refused = core.engine.shutdown_refuse_new(now(), s);
                    core.flush(t);
                    core.observer.shutdown_calls(&core.engine, &refused, false);
                    if core.engine.shutdown_unanswered() == 0 || now() >= s.deadline {
                        let done = core.engine.finish_shutdown(now(), s);
                        core.flush(t);
                        core.observer.shutdown_calls(&core.engine, &done, true);
                        tracing::info!(answered_503 = done.len(), "shutdown: grace period over");
                        linger_until = Some(now() + SHUTDOWN_FLUSH);
                    }
                }
                // After the final answers: wait for the carrier's ACKs (the 503s are
                // retransmitted until then), at most SHUTDOWN_FLUSH.
                if s.is_finished()
                    && (core.engine.shutdown_awaiting_ack(s) == 0
                        || linger_until.is_some_and(|l| now() >= l))
                {
                    break;
                }
            }
            if let Some(due) = live_views_due.filter(|due| now() >= *due) {
                // The engine's clock advances only on input or timeouts: bring it to now
                // (a no-op for its timers when none is due) so the snapshot's waits are live.
                let t = std::time::Instant::now();
                core.engine.handle_timeout(now());
                core.flush(t);
                core.observer.mark_stale();
                live_views_due = Some(due.max(now()) + observe::LIVE_VIEWS_INTERVAL);
            }
            publish_due = core.observer.maybe_publish(&core.engine, false);
        }

        // Drain: stop every reader and acceptor, send what the engine still has, close
        // every TCP connection after its queued writes; publish the last views; flush the
        // journal.
        tracing::info!("shutting down");
        let _ = stop_tx.send(true);
        core.flush(std::time::Instant::now());
        core.observer.maybe_publish(&core.engine, true);
        core.conns.clear();
        drop(input_rx);
        let journal = core.observer.take_journal();
        drop(core);
        if let Some(j) = journal {
            let flushed = tokio::task::spawn_blocking(move || {
                let ok = j.flush(SHUTDOWN_FLUSH);
                let (written, dropped, failed) = (j.written(), j.dropped(), j.failed());
                j.shutdown();
                (ok, written, dropped, failed)
            })
            .await;
            match flushed {
                Ok((ok, written, dropped, failed)) => {
                    tracing::info!(flushed = ok, written, dropped, failed, "journal closed")
                }
                Err(e) => tracing::error!(error = %e, "journal flush failed"),
            }
        }
        let _ = http_stop_tx.send(());
        if let Some(t) = http_task {
            let _ = tokio::time::timeout(SHUTDOWN_FLUSH, t).await;
        }
        let all = u32::try_from(max_tcp).unwrap_or(u32::MAX);
        if tokio::time::timeout(SHUTDOWN_FLUSH, permits.acquire_many(all))
            .await
            .is_err()
        {
            tracing::warn!("shutdown: some TCP connections did not close in time");
        }
        let stats = counters.stats();
        tracing::info!(?stats, "stopped");
        stats
    }
}

/// Completes on Ctrl-C (SIGINT) or, on Unix, SIGTERM: pass it to [`Server::run`].
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// The engine's idea of "now": tokio's clock, so paused tokio time is virtual time.
fn now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}

enum Bound {
    Udp(SocketAddr, UdpSocket),
    Tcp(SocketAddr, TcpListener),
}

async fn bind_one(listen: Listen, addr: SocketAddr) -> io::Result<Bound> {
    match listen.transport {
        SipTransport::Udp => {
            let s = UdpSocket::bind(addr).await?;
            Ok(Bound::Udp(s.local_addr()?, s))
        }
        SipTransport::Tcp => {
            let l = TcpListener::bind(addr).await?;
            Ok(Bound::Tcp(l.local_addr()?, l))
        }
    }
}

/// One open (or opening) TCP connection, as the engine task knows it.
struct Conn {
    id: u64,
    writer: mpsc::Sender<Vec<u8>>,
}

/// The state owned by the engine task.
struct Core {
    engine: Engine,
    udp: Vec<(SocketAddr, Arc<UdpSocket>)>,
    conns: HashMap<SocketAddr, Conn>,
    ctx: tcp::ConnContext,
    /// UDP datagrams read but not yet handed to the engine (emergency INVITEs first).
    inbound: udp::Inbound,
    permits: Arc<Semaphore>,
    counters: Arc<Counters>,
    observer: Observer,
}

impl Core {
    fn input(&mut self, input: Input) {
        match input {
            Input::Message {
                transport,
                source,
                local,
                bytes,
            } => {
                tracing::trace!(?transport, %source, len = bytes.len(), "received");
                let taken = std::time::Instant::now();
                self.engine.handle_received(
                    now(),
                    Received {
                        transport,
                        source,
                        local,
                        bytes: &bytes,
                    },
                );
                self.flush(taken);
            }
            Input::BodyDropped {
                transport,
                source,
                local,
                head,
                dropped,
            } => {
                tracing::debug!(?transport, %source, %dropped, "received without its body");
                let taken = std::time::Instant::now();
                self.engine.handle_received_body_dropped(
                    now(),
                    Received {
                        transport,
                        source,
                        local,
                        bytes: &head,
                    },
                    dropped,
                );
                self.flush(taken);
            }
            Input::TcpOpened { peer, id, writer } => {
                // A newer connection from the same address replaces an older one.
                self.conns.insert(peer, Conn { id, writer });
            }
            Input::TcpClosed { peer, id } => {
                if self.conns.get(&peer).is_some_and(|c| c.id == id) {
                    self.conns.remove(&peer);
                }
            }
        }
    }

    /// Handles the datagrams waiting on UDP socket `i`, **emergency INVITEs first**: it
    /// reads what the socket holds into [`udp::Inbound`] (at most [`udp::READ_BATCH`]
    /// waiting), hands the engine the oldest emergency INVITE if there is one, else the
    /// oldest datagram, sends the answers, and reads again whenever the queue is empty or
    /// [`udp::REFILL_AFTER`] has passed — so a 999 INVITE that arrives while the engine works
    /// through other calls' ACKs, BYEs and responses overtakes them instead of waiting
    /// behind them. After [`udp::READ_BATCH`] datagrams it stops reading (what was read is
    /// still handled) so timers, TCP and the API get their turn.
    fn read_udp(&mut self, i: usize) {
        let Some((local, socket)) = self.udp.get(i).map(|(a, s)| (*a, s.clone())) else {
            return;
        };
        let mut handled = 0;
        let mut last_read: Option<std::time::Instant> = None;
        loop {
            let read_due = self.inbound.is_empty()
                || last_read.is_none_or(|t| t.elapsed() >= udp::REFILL_AFTER);
            if handled < udp::READ_BATCH && read_due {
                let engine = &self.engine;
                let errors = self
                    .inbound
                    .fill(&socket, |d| engine.is_emergency_datagram(d));
                if errors > 0 {
                    self.counters
                        .udp_recv_errors
                        .fetch_add(errors, Ordering::Relaxed);
                }
                last_read = Some(std::time::Instant::now());
            }
            let Some(d) = self.inbound.next() else {
                break;
            };
            tracing::trace!(source = %d.source, len = d.bytes().len(), "received");
            let taken = std::time::Instant::now();
            // Latency counts from the kernel's receive stamp: the wait in the socket and
            // in the inbound queue is part of what a caller experiences.
            let arrived = d.received.unwrap_or(taken);
            crate::http::metrics::observe_udp_wait(taken.saturating_duration_since(arrived));
            self.engine.handle_received(
                now(),
                Received {
                    transport: Transport::Udp,
                    source: d.source,
                    local,
                    bytes: d.bytes(),
                },
            );
            self.inbound.recycle(d);
            self.flush(arrived);
            handled += 1;
        }
    }

    fn control(&mut self, ctrl: Control) {
        match ctrl {
            Control::Snapshot(reply) => {
                let _ = reply.send(self.engine.snapshot());
            }
            Control::Command(cmd, reply) => {
                let t = std::time::Instant::now();
                let r = self.engine.handle_command(now(), *cmd);
                self.flush(t);
                let _ = reply.send(r);
            }
        }
    }

    /// Sends everything the engine has queued, then hands its events to the observer
    /// (`taken`: when the input that caused them arrived — a UDP datagram's kernel receive
    /// stamp, else when the engine task took it — real time).
    fn flush(&mut self, taken: std::time::Instant) {
        while let Some(t) = self.engine.poll_transmit() {
            self.send(t);
        }
        self.observer.observe(&mut self.engine, taken);
        // The observer may have applied an AML fix (a command): send what it produced.
        while let Some(t) = self.engine.poll_transmit() {
            self.send(t);
        }
    }

    fn send(&mut self, t: Transmit) {
        match t.transport {
            Transport::Udp => self.send_udp(t.destination, &t.contents),
            Transport::Tcp => self.send_tcp(t.destination, t.contents),
        }
    }

    fn send_udp(&mut self, dest: SocketAddr, bytes: &[u8]) {
        let Some(socket) = pick_udp_socket(&self.udp, dest) else {
            self.counters
                .udp_send_errors
                .fetch_add(1, Ordering::Relaxed);
            tracing::warn!(%dest, "no UDP socket of that address family: message dropped");
            return;
        };
        tracing::trace!(%dest, len = bytes.len(), "udp send");
        if let Err(e) = socket.try_send_to(bytes, dest) {
            self.counters
                .udp_send_errors
                .fetch_add(1, Ordering::Relaxed);
            tracing::debug!(%dest, error = %e, "udp send failed");
        }
    }

    /// Reuses the connection to `dest` (RFC 3261 §18.2.2, §18.1.1), else opens one.
    fn send_tcp(&mut self, dest: SocketAddr, bytes: Vec<u8>) {
        let mut bytes = bytes;
        if let Some(conn) = self.conns.get(&dest) {
            match conn.writer.try_send(bytes) {
                Ok(()) => return,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    self.counters
                        .tcp_write_dropped
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(%dest, "tcp write queue full: message dropped");
                    return;
                }
                Err(mpsc::error::TrySendError::Closed(b)) => {
                    self.conns.remove(&dest);
                    bytes = b;
                }
            }
        }
        let Ok(permit) = self.permits.clone().try_acquire_owned() else {
            self.counters
                .tcp_rejected_limit
                .fetch_add(1, Ordering::Relaxed);
            tracing::warn!(%dest, "tcp connection limit reached: message dropped");
            return;
        };
        let id = self.counters.next_conn_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel(tcp::WRITE_QUEUE_DEPTH);
        let _ = tx.try_send(bytes);
        self.conns.insert(
            dest,
            Conn {
                id,
                writer: tx.clone(),
            },
        );
        tokio::spawn(tcp::connect(dest, id, tx, rx, self.ctx.clone(), permit));
    }
}

/// The UDP socket to send to `dest` from: same address family, preferring one bound to
/// the same kind of address (loopback for loopback) or to the unspecified address.
fn pick_udp_socket(
    udp: &[(SocketAddr, Arc<UdpSocket>)],
    dest: SocketAddr,
) -> Option<&Arc<UdpSocket>> {
    udp.iter()
        .filter(|(a, _)| a.is_ipv4() == dest.is_ipv4())
        .max_by_key(|(a, _)| {
            let ip = a.ip();
            if ip == dest.ip() || ip.is_unspecified() {
                2
            } else if ip.is_loopback() == dest.ip().is_loopback() {
                1
            } else {
                0
            }
        })
        .map(|(_, s)| s)
}

fn observe_unix_ms(t: std::time::SystemTime) -> i64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
