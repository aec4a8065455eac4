//! Resident memory of the router with 100,000 calls queued and 1,000 handlers
//! (issue 3: under 200 MB). Reads `VmRSS` from `/proc/self/status` (Linux only; the
//! test is skipped elsewhere). Print the figures with
//! `cargo test --release --test queue_memory -- --nocapture`.

use std::time::{Duration, Instant};

use answerpoint::call::CallClass;
use answerpoint::queue::*;

fn vm_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn hundred_thousand_queued_calls_fit_in_200_mb() {
    let Some(before) = vm_rss_kib() else {
        eprintln!("no /proc/self/status: skipped");
        return;
    };
    let t0 = Instant::now();
    let mut router = Router::new(QueueConfig {
        non_emergency_limit: ClassLimit {
            max_queued: 1_000_000,
            ..QueueConfig::default().non_emergency_limit
        },
        admin_limit: ClassLimit {
            max_queued: 1_000_000,
            ..QueueConfig::default().admin_limit
        },
        ..QueueConfig::default()
    })
    .unwrap();
    for h in 0..1_000 {
        let handler = HandlerId(h);
        router
            .handle(
                t0,
                Event::HandlerAdded {
                    handler,
                    skills: Skills(0b111),
                },
            )
            .unwrap();
    }
    for n in 0..100_000u64 {
        let class = CallClass::ALL[(n % 3) as usize];
        router
            .handle(
                t0 + Duration::from_millis(n),
                Event::CallArrived(NewCall {
                    call: CallId(n),
                    class,
                    caller: format!("+4477009{n:05}"),
                    location: Some(format!("51.{n:05},-0.12460 r=35m")),
                    required_skills: Skills::NONE,
                }),
            )
            .unwrap();
        while router.poll_action().is_some() {}
    }
    let depth = router.queue_depth();
    assert_eq!(depth.emergency + depth.non_emergency + depth.admin, 100_000);
    let after = vm_rss_kib().unwrap();
    println!(
        "VmRSS before {before} KiB, with 100,000 queued calls and 1,000 handlers {after} KiB \
         (router ≈ {} KiB, {} B per call)",
        after.saturating_sub(before),
        after.saturating_sub(before) * 1024 / 100_000
    );
    assert!(after < 200 * 1024, "VmRSS {after} KiB");
    // Keep the router alive until after the measurement.
    assert_eq!(router.live_calls(), 100_000);
}
