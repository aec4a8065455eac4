//! SIP parsing speed (issue 2): answerpoint's parser against rsip 0.4 on the same
//! inputs in the same run — (a) a ~2 KB 999 INVITE with a multipart SDP + PIDF-LO body,
//! (b) a 200 OK. Numbers and the command are in BENCHMARKS.md ("SIP parsing").
//!
//! What each side does per iteration (so the ratio is read honestly):
//! - `answerpoint`: `sip::parse` — checks the start line, classifies every header name,
//!   validates Request-URI, every Via, From, To, every Contact, Call-ID, CSeq (and its
//!   method) and Content-Length, joins folded lines, and copies head + body into one
//!   owned `Message` (typed values are then read from it without re-validation).
//! - `rsip_0_4`: `rsip::SipMessage::try_from(&[u8])` — parses the start line (method,
//!   Request-URI into its typed `Uri`, version / status), splits header lines into
//!   name + untyped `String` values (no Via/From/To/Contact/CSeq parsing), and copies
//!   the body into a `Vec<u8>`.
//! - `answerpoint_parse_plus_typed`: `parse`, then read top-Via branch, From tag,
//!   Call-ID and CSeq number (what the transaction layer reads per message).
//!
//! Loop mode for instruction counts (no criterion): `SIP_PARSE_LOOP=<who>:<input>:<n>`
//! with who = `ap` | `rsip`, input = `invite` | `ok`, e.g.
//! `SIP_PARSE_LOOP=ap:invite:2000 valgrind --tool=callgrind target/release/deps/sip_parse-*`.
//! Interleaved ratio (both parsers under the same load): `SIP_PARSE_RATIO=invite:2000`.

use criterion::{black_box, criterion_group, Criterion};

const INVITE: &[u8] = include_bytes!("../fixtures/sip/bench/invite-999-multipart.sip");
const OK200: &[u8] = include_bytes!("../fixtures/sip/bench/200-ok.sip");

fn bench(c: &mut Criterion) {
    // Both parsers must accept both inputs, or the comparison is meaningless.
    assert!(answerpoint::sip::parse(INVITE).is_ok());
    assert!(rsip::SipMessage::try_from(INVITE).is_ok());
    assert!(answerpoint::sip::parse(OK200).is_ok());
    assert!(rsip::SipMessage::try_from(OK200).is_ok());

    for (name, input) in [("invite_999_multipart_2k", INVITE), ("ok_200", OK200)] {
        let mut g = c.benchmark_group(format!("sip_parse/{name}"));
        g.throughput(criterion::Throughput::Bytes(input.len() as u64));
        g.bench_function("answerpoint", |b| {
            b.iter(|| answerpoint::sip::parse(black_box(input)))
        });
        g.bench_function("rsip_0_4", |b| {
            b.iter(|| rsip::SipMessage::try_from(black_box(input)))
        });
        g.bench_function("answerpoint_parse_plus_typed", |b| {
            b.iter(|| {
                let m = answerpoint::sip::parse(black_box(input)).ok()?;
                let branch = m.top_via()?.branch()?.len();
                let tag = m.from()?.tag()?.len();
                Some(branch + tag + m.call_id()?.len() + m.cseq()?.seq as usize)
            })
        });
        g.finish();
    }
}

/// Plain loop for `valgrind --tool=callgrind` / `perf stat`; returns false on a bad spec.
fn run_loop(spec: &str) -> bool {
    let mut it = spec.split(':');
    let (Some(who), Some(input), Some(n)) = (it.next(), it.next(), it.next()) else {
        return false;
    };
    let input = match input {
        "invite" => INVITE,
        "ok" => OK200,
        _ => return false,
    };
    let Ok(n) = n.parse::<u64>() else {
        return false;
    };
    let mut ok = 0u64;
    for _ in 0..n {
        ok += match who {
            "ap" => u64::from(answerpoint::sip::parse(black_box(input)).is_ok()),
            "rsip" => u64::from(rsip::SipMessage::try_from(black_box(input)).is_ok()),
            _ => return false,
        };
    }
    println!("{who} {} x{n}: {ok} ok", input.len());
    true
}

/// Interleaved ratio for a loaded machine: alternates batches of 200 parses by each
/// parser, `rounds` times, so both see the same load; prints the median time per parse
/// of each and the median of the per-round ratios.
fn run_ratio(spec: &str) -> bool {
    let Some((input, rounds)) = spec.split_once(':') else {
        return false;
    };
    let (input, Ok(rounds)) = (
        match input {
            "invite" => INVITE,
            "ok" => OK200,
            _ => return false,
        },
        rounds.parse::<usize>(),
    ) else {
        return false;
    };
    const BATCH: u32 = 200;
    let (mut ap, mut rs, mut ratio) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds.max(1) {
        let t = std::time::Instant::now();
        for _ in 0..BATCH {
            black_box(answerpoint::sip::parse(black_box(input)).is_ok());
        }
        let a = t.elapsed().as_secs_f64() * 1e9 / f64::from(BATCH);
        let t = std::time::Instant::now();
        for _ in 0..BATCH {
            black_box(rsip::SipMessage::try_from(black_box(input)).is_ok());
        }
        let r = t.elapsed().as_secs_f64() * 1e9 / f64::from(BATCH);
        ap.push(a);
        rs.push(r);
        ratio.push(r / a);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(0.0)
    };
    println!(
        "{} octets, {} rounds x {BATCH}: answerpoint {:.0} ns, rsip {:.0} ns, ratio {:.2}x (medians)",
        input.len(),
        rounds,
        median(&mut ap),
        median(&mut rs),
        median(&mut ratio)
    );
    true
}

criterion_group!(benches, bench);

fn main() {
    if let Ok(spec) = std::env::var("SIP_PARSE_LOOP") {
        if !run_loop(&spec) {
            eprintln!("SIP_PARSE_LOOP=<ap|rsip>:<invite|ok>:<n>");
            std::process::exit(2);
        }
        return;
    }
    if let Ok(spec) = std::env::var("SIP_PARSE_RATIO") {
        if !run_ratio(&spec) {
            eprintln!("SIP_PARSE_RATIO=<invite|ok>:<rounds>");
            std::process::exit(2);
        }
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
