//! The engine configuration: the example file parses and validates, the embedded default is
//! valid, and bad configurations are rejected with the offending key named. Also drives
//! `answerpoint check-config` (no ports are bound).

use std::net::IpAddr;
use std::path::Path;
use std::process::Command;

use answerpoint::config::{Config, ConfigError, Problem, SipTransport};
use answerpoint::sip::digest::Credentials;

const EXAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/fixtures/config/answerpoint.toml"
);

fn err(toml: &str) -> String {
    match Config::from_toml_str(toml) {
        Ok(c) => panic!("accepted: {c:?}"),
        Err(e) => e.to_string(),
    }
}

fn invalid(toml: &str) -> (String, Problem) {
    match Config::from_toml_str(toml) {
        Err(ConfigError::Invalid { key, problem }) => (key, problem),
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn example_file_parses_and_validates() {
    let c = Config::load(Path::new(EXAMPLE)).unwrap();
    assert_eq!(c.sip.listen.len(), 3);
    assert_eq!(c.sip.listen[2].transport, SipTransport::Udp);
    assert_eq!(c.sip.listen[2].addr, "[::1]:5060".parse().unwrap());
    assert_eq!(c.sip.carriers.len(), 4);
    assert!(c.is_carrier("192.0.2.77".parse::<IpAddr>().unwrap()));
    assert!(c.is_carrier("2001:db8:5060:1::9".parse::<IpAddr>().unwrap()));
    assert!(!c.is_carrier("198.51.100.1".parse::<IpAddr>().unwrap()));
    assert_eq!(c.sip.realm, "answerpoint");
    assert_eq!(c.sip.queued_keepalive_s, 30);
    assert_eq!(c.sip.timers.t2_ms, 4000);
    assert_eq!(c.http.listen, "127.0.0.1:8080".parse().unwrap());
    assert_eq!(c.limits.max_message_bytes, 65_535);
    assert_eq!(c.seats.len(), 2);
    assert_eq!(c.seats[0].id, "seat-1");
    assert_eq!(c.seats[1].skills, vec!["non-emergency", "admin"]);
    assert_eq!(c.users[1].name, "handler2");
    assert_eq!(c.password("handler1"), Some("change-me"));
    assert_eq!(c.password("nobody"), None);
    assert_eq!(
        c.data_dir.as_deref(),
        Some(Path::new("/var/lib/answerpoint"))
    );
    assert_eq!(c.realtime_priority, 10);
    assert_eq!(c.queue.ring_timeout_ms, 12_000);
    assert_eq!(c.queue.max_consecutive_misses, 2);
    assert_eq!(c.queue.wrap_up_s.admin, 5);
    assert_eq!(c.queue.non_emergency_limit.retry_after_s, 60);
    assert_eq!(c.classification.emergency_numbers, ["999", "112"]);
    assert_eq!(c.classification.non_emergency_numbers, ["101"]);
    assert_eq!(
        c.classification.unknown,
        answerpoint::call::UnknownPolicy::Reject
    );
    // Passwords never appear in debug output.
    assert!(!format!("{c:?}").contains("change-me"));
}

#[test]
fn bad_files_name_the_key() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/config/bad");
    let cases = [
        (
            "unknown-transport.toml",
            "sip.listen[1]: unknown transport 'sctp' (expected udp or tcp)",
        ),
        (
            "unknown-key.toml",
            "sip.lisen: unknown field `lisen`, expected one of `listen`",
        ),
        (
            "bad-address.toml",
            "http.listen: 'localhost:80800' is not an address with a port",
        ),
        (
            "duplicate-seat.toml",
            "seats[1].id: 'seat-1' duplicates seats[0].id",
        ),
        (
            "empty-password.toml",
            "users[0].password: must not be empty",
        ),
        (
            "bad-cidr.toml",
            "sip.carriers[0]: '10.0.0.0/33': prefix length 33 is over 32",
        ),
        (
            "queue-negative-ring-timeout.toml",
            "queue.ring_timeout_ms: invalid value: integer `-1`, expected u64 (line 3)",
        ),
        (
            "queue-zero-ring-timeout.toml",
            "queue.ring_timeout_ms: queue.ring_timeout_ms must be > 0",
        ),
        (
            "queue-unknown-key.toml",
            "queue.ring_timeout: unknown field `ring_timeout`, expected one of `ring_timeout_ms`",
        ),
        (
            "classification-unknown-policy.toml",
            "classification.unknown: unknown variant `accept`, expected `reject` or `admin` (line 3)",
        ),
        (
            "classification-duplicate-number.toml",
            "classification.non_emergency_numbers[1]: '999' duplicates classification.emergency_numbers[0]",
        ),
    ];
    for (file, want) in cases {
        let e = Config::load(&Path::new(dir).join(file))
            .unwrap_err()
            .to_string();
        assert!(e.contains(want), "{file}: {e}");
    }
}

fn key_err(toml: &str) -> (String, usize) {
    match Config::from_toml_str(toml) {
        Err(ConfigError::Key { key, line, .. }) => (key, line),
        other => panic!("expected Key, got {other:?}"),
    }
}

#[test]
fn unknown_keys_and_wrong_types_name_the_full_key() {
    let k = |t: &str| key_err(t);
    assert_eq!(k("[sip]\nlisen = []\n"), ("sip.lisen".into(), 2));
    assert_eq!(
        k("[sip.timers]\nt3_ms = 1\n"),
        ("sip.timers.t3_ms".into(), 2)
    );
    assert_eq!(k("[htp]\nlisten='1'\n"), ("htp".into(), 1));
    assert_eq!(k("x = 1\n"), ("x".into(), 1));
    assert_eq!(
        k("[[seats]]\nid='a'\ncontact='sip:a@h'\n\n[[seats]]\nid='b'\ncontact='sip:b@h'\nskill=['x']\n"),
        ("seats[1].skill".into(), 8)
    );
    assert_eq!(
        k("[sip]\ntimers = { t1_ms = 1, t9 = 2 }\n"),
        ("sip.timers.t9".into(), 2)
    );
    assert_eq!(
        k("[sip]\nqueued_keepalive_s = \"30\"\n"),
        ("sip.queued_keepalive_s".into(), 2)
    );
    assert_eq!(
        err("[http]\nlisten = 8080\n"),
        "http.listen: invalid type: integer `8080`, expected a string (line 2)"
    );
    // Syntax errors keep toml's own located message.
    assert!(matches!(
        Config::from_toml_str("[sip\n"),
        Err(ConfigError::Toml(_))
    ));
}

#[test]
fn unknown_keys_are_errors_everywhere() {
    assert!(err("[sip.timers]\nt3_ms = 1\n").contains("unknown field `t3_ms`"));
    assert!(err("[limits]\nmax_mesage_bytes = 1\n").contains("unknown field `max_mesage_bytes`"));
    assert!(err("[[seats]]\nid='a'\ncontact='sip:a@h'\nskill=['x']\n")
        .contains("unknown field `skill`"));
    assert!(err("[htp]\nlisten='127.0.0.1:1'\n").contains("unknown field `htp`"));
    assert!(err("[sip]\nring_timeout_s = 10\n").contains("unknown field `ring_timeout_s`"));
    // Wrong types are caught by serde too.
    assert!(err("[sip]\nqueued_keepalive_s = \"30\"\n").contains("queued_keepalive_s"));
    // Syntax errors.
    assert!(err("[sip\n").contains("TOML parse error"));
}

#[test]
fn value_errors() {
    let cases: [(&str, &str, Problem); 14] = [
        ("[sip]\nlisten = []\n", "sip.listen", Problem::Empty),
        (
            "[sip]\nlisten = [\"udp:127.0.0.1:5060\", \"UDP:127.0.0.1:5060\"]\n",
            "sip.listen[1]",
            Problem::Duplicate {
                value: "UDP:127.0.0.1:5060".into(),
                first: "sip.listen[0]".into(),
            },
        ),
        (
            "[sip]\nlisten = [\"udp:localhost:5060\"]\n",
            "sip.listen[0]",
            Problem::BadSocketAddr("localhost:5060".into()),
        ),
        ("[sip]\ncarriers = []\n", "sip.carriers", Problem::Empty),
        (
            "[sip]\nqueued_keepalive_s = 61\n",
            "sip.queued_keepalive_s",
            Problem::OutOfRange {
                value: 61,
                min: 1,
                max: 60,
            },
        ),
        (
            "[sip]\nqueued_keepalive_s = 0\n",
            "sip.queued_keepalive_s",
            Problem::OutOfRange {
                value: 0,
                min: 1,
                max: 60,
            },
        ),
        (
            "[sip.timers]\nt1_ms = 0\n",
            "sip.timers.t1_ms",
            Problem::OutOfRange {
                value: 0,
                min: 1,
                max: 10_000,
            },
        ),
        (
            "[sip.timers]\nt1_ms = 5000\nt2_ms = 4000\n",
            "sip.timers.t2_ms",
            Problem::BelowOther {
                other_key: "sip.timers.t1_ms",
                other: 5000,
            },
        ),
        (
            "[sip]\nmin_register_expires_s = 600\nmax_register_expires_s = 60\n",
            "sip.max_register_expires_s",
            Problem::BelowOther {
                other_key: "sip.min_register_expires_s",
                other: 600,
            },
        ),
        ("[sip]\nrealm = \"\"\n", "sip.realm", Problem::Empty),
        (
            "[limits]\nmax_message_bytes = 100\n",
            "limits.max_message_bytes",
            Problem::OutOfRange {
                value: 100,
                min: 1_024,
                max: 1_048_576,
            },
        ),
        (
            "[[seats]]\nid = \"seat 1\"\ncontact = \"sip:a@h\"\n",
            "seats[0].id",
            Problem::BadName("seat 1".into()),
        ),
        (
            "[[seats]]\nid = \"s\"\ncontact = \"http://h\"\n",
            "seats[0].contact",
            Problem::BadSipUri("http://h".into()),
        ),
        (
            "[[users]]\nname = \"u\"\npassword = \"p\"\nskills = [\"emergency\", \"emergency\"]\n",
            "users[0].skills[1]",
            Problem::Duplicate {
                value: "emergency".into(),
                first: "users[0].skills[0]".into(),
            },
        ),
    ];
    for (toml, key, problem) in cases {
        assert_eq!(invalid(toml), (key.to_owned(), problem), "{toml}");
    }
    assert_eq!(
        invalid("[[users]]\nname = \"u\"\npassword = \"p\"\n\n[[users]]\nname = \"u\"\npassword = \"q\"\n").0,
        "users[1].name"
    );
    assert_eq!(
        invalid("[[users]]\nname = \"u\"\npassword = \"a\\nb\"\n"),
        ("users[0].password".to_owned(), Problem::ControlCharacter)
    );
    assert_eq!(
        invalid("[[seats]]\nid = \"s\"\ncontact = \"sip:\"\n").0,
        "seats[0].contact"
    );
    assert_eq!(invalid("data_dir = \"\"\n").0, "data_dir");
}

fn check_config(path: &str) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_answerpoint"))
        .args(["check-config", path])
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn check_config_command() {
    let (code, stdout, _) = check_config(EXAMPLE);
    assert_eq!(code, 0);
    assert_eq!(
        stdout.trim(),
        "config OK: sip udp:127.0.0.1:5060 tcp:127.0.0.1:5060 udp:[::1]:5060; \
         http 127.0.0.1:8080; 4 carrier prefixes; 2 seats; 2 users; realm answerpoint; T1 500 ms; \
         engine thread SCHED_FIFO 10 requested"
    );
    let bad = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/config/bad/unknown-transport.toml"
    );
    let (code, stdout, stderr) = check_config(bad);
    assert_eq!(code, 1);
    assert!(stdout.is_empty());
    assert!(
        stderr.contains("sip.listen[1]: unknown transport 'sctp' (expected udp or tcp)"),
        "{stderr}"
    );
    for (file, want) in [
        (
            "queue-unknown-key.toml",
            "queue.ring_timeout: unknown field",
        ),
        (
            "queue-negative-ring-timeout.toml",
            "queue.ring_timeout_ms: invalid value",
        ),
        (
            "classification-unknown-policy.toml",
            "classification.unknown: unknown variant",
        ),
    ] {
        let path = format!("{}/fixtures/config/bad/{file}", env!("CARGO_MANIFEST_DIR"));
        let (code, stdout, stderr) = check_config(&path);
        assert_eq!(code, 1, "{file}");
        assert!(stdout.is_empty(), "{file}");
        assert!(stderr.contains(want), "{file}: {stderr}");
    }
    let (code, _, stderr) = check_config("/nonexistent/answerpoint.toml");
    assert_eq!(code, 1);
    assert!(
        stderr.contains("cannot read /nonexistent/answerpoint.toml"),
        "{stderr}"
    );
}

proptest::proptest! {
    /// Arbitrary text never panics the loader (including the error locator).
    #[test]
    fn loader_never_panics(text in "(\\[{1,2}[a-z.]{0,8}\\]{1,2}\n|[a-z_]{1,10} = (\"[^\"]{0,10}\"|[0-9]{1,4}|\\[\\]|\\{ [a-z]{1,3} = 1 \\})\n|\\PC{0,20}\n){0,8}") {
        let _ = Config::from_toml_str(&text);
    }
}

#[test]
fn digest_algorithms_are_validated() {
    use answerpoint::sip::digest::Algorithm;
    let c = Config::from_toml_str("[sip]\ndigest_algorithms = [\"md5\"]\n").unwrap();
    assert_eq!(c.sip.digest_algorithms, vec![Algorithm::Md5]);
    assert_eq!(
        Config::default().sip.digest_algorithms,
        vec![Algorithm::Sha256, Algorithm::Md5]
    );
    let (key, problem) = invalid("[sip]\ndigest_algorithms = [\"MD5\", \"SHA-1\"]\n");
    assert_eq!(key, "sip.digest_algorithms[1]");
    assert!(matches!(problem, Problem::UnknownDigestAlgorithm(ref a) if a == "SHA-1"));
    let (key, problem) = invalid("[sip]\ndigest_algorithms = []\n");
    assert_eq!(key, "sip.digest_algorithms");
    assert!(matches!(problem, Problem::Empty));
    let (key, _) = invalid("[sip]\ndigest_algorithms = [\"MD5\", \"md5\"]\n");
    assert_eq!(key, "sip.digest_algorithms[1]");
}
