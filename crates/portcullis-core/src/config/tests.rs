use super::*;

#[test]
fn empty_file_gives_defaults() {
    let config = Config::parse("").expect("empty configuration is valid");
    assert_eq!(config.auth.token_lifetime, Duration::from_secs(8 * 3600));
    assert_eq!(config.api.listen, "127.0.0.1:8443".parse().unwrap());
    assert_eq!(config.audit.checkpoint_every, 1000);
}

#[test]
fn unknown_key_is_named() {
    let error = Config::parse("[api]\nlisten = \"127.0.0.1:1\"\nlistn = 3\n").unwrap_err();
    let message = error.to_string();
    assert!(message.contains("listn"), "{message}");
    assert!(message.contains("line 3"), "{message}");
}

#[test]
fn unknown_section_is_named() {
    let message = Config::parse("[apii]\n").unwrap_err().to_string();
    assert!(message.contains("apii"), "{message}");
}

#[test]
fn bad_duration_names_key_and_value() {
    let message = Config::parse("[auth]\ntoken_lifetime = \"eight hours\"\n")
        .unwrap_err()
        .to_string();
    assert!(message.contains("auth.token_lifetime"), "{message}");
    assert!(message.contains("eight hours"), "{message}");
    assert!(message.contains("8h"), "{message}");
}

#[test]
fn wrong_type_names_key() {
    let message = Config::parse("[audit]\ncheckpoint_every = \"many\"\n")
        .unwrap_err()
        .to_string();
    assert!(message.contains("audit.checkpoint_every"), "{message}");
}

#[test]
fn lifetime_above_maximum_is_rejected() {
    let text = "[auth]\ntoken_lifetime = \"13h\"\nmax_token_lifetime = \"12h\"\n";
    let message = Config::parse(text).unwrap_err().to_string();
    assert!(message.contains("auth.token_lifetime"), "{message}");
    assert!(message.contains("13h"), "{message}");
}

#[test]
fn store_password_in_file_is_rejected() {
    let text = "[store]\nurl = \"postgres://gw:secret@db:5432/portcullis\"\n";
    let message = Config::parse(text).unwrap_err().to_string();
    assert!(message.contains("store.url"), "{message}");
    assert!(message.contains("PORTCULLIS_STORE_URL"), "{message}");
    assert!(
        !message.contains("secret"),
        "the password must not be echoed: {message}"
    );
}

#[test]
fn plain_http_off_loopback_is_rejected() {
    let text = "[api]\nlisten = \"0.0.0.0:8080\"\ntls = false\n";
    let message = Config::parse(text).unwrap_err().to_string();
    assert!(message.contains("api.tls"), "{message}");
}

#[test]
fn unknown_log_format_is_named() {
    let message = Config::parse("[log]\nformat = \"xml\"\n")
        .unwrap_err()
        .to_string();
    assert!(message.contains("log.format"), "{message}");
    assert!(message.contains("xml"), "{message}");
}

#[test]
fn relative_paths_resolve_against_config_dir() {
    let mut config = Config::parse("").unwrap();
    config.base_dir = PathBuf::from("/srv/portcullis");
    assert_eq!(
        config.resolve(&config.keys.master_key_file),
        PathBuf::from("/srv/portcullis/keys/master.key")
    );
}

#[test]
fn target_section_parses() {
    let text = "[targets.ehr]\nhost = \"db.internal\"\ndatabase = \"ehr\"\nuser = \"portcullis_gateway\"\n\
                password_env = \"EHR_PASSWORD\"\ntls = \"require\"\nidle_timeout = \"5m\"\n";
    let config = Config::parse(text).expect("valid target");
    let target = &config.targets["ehr"];
    assert_eq!(target.port, 5432);
    assert_eq!(target.tls, UpstreamTlsMode::Require);
    assert_eq!(target.idle_timeout, Some(Duration::from_secs(300)));
}

#[test]
fn verify_full_without_ca_is_rejected() {
    let text = "[targets.ehr]\nhost = \"db\"\ndatabase = \"ehr\"\nuser = \"gw\"\n";
    let message = Config::parse(text).unwrap_err().to_string();
    assert!(message.contains("targets.ehr.tls"), "{message}");
    assert!(message.contains("ca_file"), "{message}");
}

#[test]
fn target_password_in_file_is_unknown_key() {
    let text = "[targets.ehr]\nhost = \"db\"\ndatabase = \"ehr\"\nuser = \"gw\"\npassword = \"x\"\ntls = \"disable\"\n";
    let message = Config::parse(text).unwrap_err().to_string();
    assert!(message.contains("password"), "{message}");
    assert!(message.contains("targets.ehr"), "{message}");
}

#[test]
fn bad_plaintext_policy_names_key() {
    let message = Config::parse("[postgres]\nplaintext = \"sometimes\"\n").unwrap_err().to_string();
    assert!(message.contains("postgres.plaintext"), "{message}");
}
