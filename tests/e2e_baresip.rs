//! A real softphone: baresip (Debian package `baresip`) registers with digest
//! authentication (RFC 3261 §22.4) to the in-process engine, becomes an available handler,
//! and auto-answers a SIPp 999 call (multipart SDP + PIDF-LO from the carrier) that the
//! engine offers it; the call completes with its location kept.
//!
//! The engine is configured with `sip.digest_algorithms = ["MD5"]`: baresip 1.0's
//! digest client (libre) gives up with ENOSYS when any `WWW-Authenticate` offers an
//! algorithm other than MD5, and by default the engine challenges with SHA-256 and MD5
//! (RFC 8760 §2.4). baresip 1.0 answers a multipart/mixed (SDP + PIDF-LO) offer with
//! 500, so the user has `offer_body = "sdp-only"`: its INVITE carries the caller's SDP
//! alone, with the Geolocation header kept; the location stays on the call (API).
//! baresip runs headless from a scratch config directory: no sound card (a sine source,
//! no player), UDP only, loopback only. Requires baresip and SIPp.

mod e2e_support;

use std::time::Duration;

use answerpoint::engine::{CallState, EndReason};
use e2e_support::{free_port, free_udp_port, require_tool, scratch_dir, Engine, Peer, Sipp};
use tokio::process::Command;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baresip_registers_with_digest_and_answers_a_999_with_location() {
    let baresip = require_tool("baresip", "baresip");
    let dir = scratch_dir("baresip");
    let engine = Engine::start(
        r#"
[sip]
listen = ["udp:127.0.0.1:0"]
carriers = ["127.0.0.0/8"]
digest_algorithms = ["MD5"]    # baresip 1.0's digest client gives up on SHA-256

[[users]]
name = "handler1"
password = "change-me"
skills = ["emergency", "non-emergency"]
offer_body = "sdp-only"        # baresip 1.0 answers multipart offers with 500
"#,
    )
    .await;

    let phone_dir = dir.join("baresip");
    std::fs::create_dir_all(&phone_dir).unwrap();
    let phone_port = free_udp_port();
    std::fs::write(
        phone_dir.join("accounts"),
        format!(
            "<sip:handler1@{};transport=udp>;auth_pass=change-me;answermode=auto;regint=600\n",
            engine.udp
        ),
    )
    .unwrap();
    std::fs::write(
        phone_dir.join("config"),
        format!(
            "poll_method\t\tepoll\n\
             sip_listen\t\t127.0.0.1:{phone_port}\n\
             sip_transports\t\tudp\n\
             audio_source\t\tausine,440\n\
             ausrc_srate\t\t48000\n\
             ausrc_channels\t\t2\n\
             auplay_srate\t\t48000\n\
             auplay_channels\t\t2\n\
             rtp_ports\t\t{}-{}\n\
             module_path\t\t/usr/lib/baresip/modules\n\
             module\t\t\tg711.so\n\
             module\t\t\tausine.so\n\
             module_app\t\taccount.so\n\
             module_app\t\tmenu.so\n",
            phone_port.saturating_add(2) & !1,
            (phone_port.saturating_add(2) & !1).saturating_add(20),
        ),
    )
    .unwrap();
    let mut cmd = Command::new(baresip);
    // -t: quit after 120 s whatever happens (the test kills it sooner on drop); -s: SIP
    // trace in baresip.out for diagnosis.
    cmd.arg("-f").arg(&phone_dir).args(["-t", "120", "-s"]);
    let _phone = Peer::spawn("baresip", &dir, cmd);

    let snap = engine
        .wait_for(
            "baresip to register and become available",
            Duration::from_secs(20),
            |s| {
                s.registrations.iter().any(|r| r.user == "handler1")
                    && s.handlers
                        .iter()
                        .any(|h| &*h.id == "handler1" && h.state == "available")
            },
        )
        .await;
    let reg = snap
        .registrations
        .iter()
        .find(|r| r.user == "handler1")
        .unwrap();
    assert!(
        reg.contact.contains(&format!("127.0.0.1:{phone_port}")),
        "binding contact {}",
        reg.contact
    );

    let mut carrier = Sipp {
        name: "carrier",
        scenario: "carrier-999-pidf.xml",
        port: free_port(),
        transport: "u1",
        calls: 1,
        rate: 0,
        pause_ms: 500,
        remote: Some(engine.udp),
    }
    .spawn(&dir);
    carrier.wait_success(Duration::from_secs(45)).await;

    let snap = engine
        .wait_for("the call to end", Duration::from_secs(5), |s| {
            s.calls.len() == 1 && s.calls[0].state == CallState::Ended
        })
        .await;
    let call = &snap.calls[0];
    assert_eq!(call.handler.as_deref(), Some("handler1"));
    assert_eq!(call.end_reason, Some(EndReason::CallerHangup));
    assert!(call.answered_ms.is_some());
    assert_eq!(call.class, Some(answerpoint::call::CallClass::Emergency));
    assert!(
        call.location.as_ref().is_some_and(|l| l.lat.is_some()),
        "location kept: {:?}",
        call.location
    );
    engine.stop().await;
}
