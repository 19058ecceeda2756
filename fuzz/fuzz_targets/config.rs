//! config.toml loading and the checks that turn it into settings
//! (agent, discovery methods, keyservers, S/MIME algorithms, policy).
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use mailseal::config::Config;
use mailseal::discover::keyserver::Server;
use mailseal::discover::Method;
use mailseal::smime::settings;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("config.toml");
    let Ok(config) = Config::parse(text, path) else {
        return;
    };
    let _ = mailseal::agent::Settings::from_config(&config, path, None);
    let _ = Method::parse_list(&config.discovery.methods);
    for spec in &config.discovery.keyservers {
        let _ = Server::parse(spec);
    }
    let _ = settings::content_cipher(&config.smime, &["alice@example.org".to_string()]);
    let _ = settings::key_transport(&config.smime);
    let _ = settings::rsa_signature(&config.smime);
    let _ = config.policy.protection_for("alice@example.org");
    let _ = config.openpgp_identity("alice@example.org");
});
