//! Real-time scheduling for the engine thread (`realtime_priority`, Linux `sched(7)`).
//!
//! The engine is one thread. On a shared machine its latency is mostly *waiting for a CPU*:
//! when a datagram arrives while an ordinary (`SCHED_OTHER`) process such as a compiler or a
//! backup job holds the core, the kernel need not switch to the engine at once, and an INVITE
//! waits milliseconds behind someone else's work. Telephony servers traditionally run their
//! signalling at real-time priority for this reason (Asterisk `-p`, FreeSWITCH `-rp`).
//!
//! [`set_realtime`] puts the *calling thread* under `SCHED_FIFO` with the given priority and
//! `SCHED_RESET_ON_FORK`, so threads it starts later (the views thread, tokio's blocking
//! pool, the journal writer) go back to the normal policy instead of inheriting it. The
//! kernel's real-time throttling (`/proc/sys/kernel/sched_rt_runtime_us`, by default 95 % of
//! each second) still leaves the rest of the machine some CPU should the engine ever spin.
//!
//! Measured effect (BENCHMARKS.md "Real-time priority"): at 1,000 calls/s with a build
//! running on the same two cores, engine latency p99 7–8 ms → 1.4–1.7 ms.

use std::io;

/// Highest `SCHED_FIFO` priority on Linux (`sched_get_priority_max(SCHED_FIFO)`).
pub const MAX_REALTIME_PRIORITY: u8 = 99;

/// Runs the calling thread under `SCHED_FIFO` at `priority` (1–99), with
/// `SCHED_RESET_ON_FORK` so threads it creates later do not inherit it (`sched(7)`).
///
/// # Errors
/// - `PermissionDenied` without `CAP_SYS_NICE` or an `RLIMIT_RTPRIO` of at least
///   `priority` (`ulimit -r`, or `LimitRTPRIO=` in a systemd unit);
/// - `InvalidInput` for a priority of 0 or above [`MAX_REALTIME_PRIORITY`];
/// - `Unsupported` on platforms other than Linux.
pub fn set_realtime(priority: u8) -> io::Result<()> {
    if priority == 0 || priority > MAX_REALTIME_PRIORITY {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("real-time priority {priority} outside 1–{MAX_REALTIME_PRIORITY}"),
        ));
    }
    set_fifo(priority)
}

#[cfg(target_os = "linux")]
fn set_fifo(priority: u8) -> io::Result<()> {
    let param = libc::sched_param {
        sched_priority: libc::c_int::from(priority),
    };
    // SAFETY: pid 0 is the calling thread; `param` is a live, initialised sched_param.
    let rc = unsafe {
        libc::sched_setscheduler(0, libc::SCHED_FIFO | libc::SCHED_RESET_ON_FORK, &param)
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn set_fifo(_priority: u8) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "real-time priority is implemented for Linux only",
    ))
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// (policy without the reset-on-fork flag, reset-on-fork set, priority) of the calling thread.
    fn policy() -> (libc::c_int, bool, libc::c_int) {
        // SAFETY: pid 0 is the calling thread; `p` is a live sched_param.
        let (raw, prio) = unsafe {
            let raw = libc::sched_getscheduler(0);
            let mut p = libc::sched_param { sched_priority: 0 };
            libc::sched_getparam(0, &mut p);
            (raw, p.sched_priority)
        };
        (
            raw & !libc::SCHED_RESET_ON_FORK,
            raw & libc::SCHED_RESET_ON_FORK != 0,
            prio,
        )
    }

    #[test]
    fn the_calling_thread_becomes_fifo_and_its_children_do_not() {
        // A thread of its own, so the test runner's threads keep their policy.
        let (own, child) = std::thread::spawn(|| {
            set_realtime(7).expect(
                "SCHED_FIFO refused: the test needs CAP_SYS_NICE or `ulimit -r` ≥ 7 (CI runs as root)",
            );
            let own = policy();
            let child = std::thread::spawn(policy).join().expect("child thread");
            (own, child)
        })
        .join()
        .expect("test thread");
        assert_eq!(own, (libc::SCHED_FIFO, true, 7));
        assert_eq!(child, (libc::SCHED_OTHER, false, 0));
    }

    #[test]
    fn out_of_range_priorities_are_refused_before_the_kernel_is_asked() {
        for p in [0, 100, 255] {
            let e = set_realtime(p).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "priority {p}");
        }
        assert_eq!(policy().0, libc::SCHED_OTHER);
    }
}
