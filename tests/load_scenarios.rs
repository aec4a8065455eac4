//! Every load scenario shipped in load-scripts/ (issue 7) parses, passes its range checks,
//! and generates an engine configuration the engine accepts, with one seat or user per
//! simulated handler.

use answerpoint::config::Config;
use answerpoint::load::LoadScenario;

const SCENARIOS: [&str; 6] = [
    "steady",
    "nye-surge",
    "major-incident",
    "101-flood",
    "handler-failure",
    "engine-1000cps",
];

#[test]
fn shipped_scenarios_parse_and_generate_valid_engine_configs() {
    for name in SCENARIOS {
        let path = format!("{}/load-scripts/{name}.toml", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap();
        let sc = LoadScenario::from_toml(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(sc.name, name);
        let cfg = Config::from_toml_str(&sc.engine_config_toml("127.0.0.1:5071".parse().unwrap()))
            .unwrap_or_else(|e| panic!("{path}: generated config: {e}"));
        assert_eq!(
            (cfg.seats.len() + cfg.users.len()) as u32,
            sc.handler_count(),
            "{path}"
        );
        // Real run time of the phases: 1–2 minutes here except the 30 s latency run.
        let real_s = sc.phases_s() / sc.time_scale;
        assert!((30.0..=120.0).contains(&real_s), "{path}: {real_s} s");
    }
}
