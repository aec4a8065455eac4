//! Seat and user skills are validated against the skills the queue knows: a typo is an
//! error naming the key, not a silently unreachable (or silently all-class) handler.

use answerpoint::config::Config;

const BASE: &str = "[sip]\ncarriers = [\"127.0.0.0/8\"]\n";

#[test]
fn a_misspelt_seat_skill_is_an_error_naming_the_key() {
    let text = format!(
        "{BASE}[[seats]]\nid = \"s1\"\ncontact = \"sip:s1@127.0.0.1:5080\"\nskills = [\"emergency\", \"non-emergancy\"]\n"
    );
    let err = Config::from_toml_str(&text).unwrap_err().to_string();
    assert!(err.contains("seats[0].skills[1]"), "{err}");
    assert!(err.contains("unknown skill 'non-emergancy'"), "{err}");
}

#[test]
fn a_misspelt_user_skill_is_an_error_and_known_skills_pass() {
    let text =
        format!("{BASE}[[users]]\nname = \"alice\"\npassword = \"pw\"\nskills = [\"Emergency\"]\n");
    let err = Config::from_toml_str(&text).unwrap_err().to_string();
    assert!(err.contains("users[0].skills[0]"), "{err}");
    let ok = format!(
        "{BASE}[[users]]\nname = \"alice\"\npassword = \"pw\"\nskills = [\"emergency\", \"non-emergency\", \"admin\", \"text\"]\n"
    );
    let c = Config::from_toml_str(&ok).unwrap();
    assert_eq!(c.users[0].skills.len(), 4);
}
