//! SIP parsing speed (issue 2): answerpoint's parser against rsip 0.4 on the same
//! inputs in the same run — (a) a ~2 KB 999 INVITE with a multipart SDP + PIDF-LO body,
//! (b) a 200 OK. Numbers and the command are in BENCHMARKS.md ("SIP parsing").

use criterion::{black_box, criterion_group, criterion_main, Criterion};

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
        // Parse, then read what the transaction layer needs: top Via branch, From tag,
        // Call-ID, CSeq (answerpoint only; rsip's typed access differs in shape).
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

criterion_group!(benches, bench);
criterion_main!(benches);
