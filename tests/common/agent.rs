//! Helpers for testing `mailseal agent` against a test home.
#![allow(dead_code)]

use crate::common::Home;

pub use crate::client::*;

/// Starts `mailseal --home HOME agent --listen 127.0.0.1:0` with the test
/// passwords in its environment; waits for it to listen.
pub fn start(home: &Home) -> AgentProc {
    let mut command = home.command(&["agent", "--listen", "127.0.0.1:0"]);
    command.env("TEST_PW", crate::smtp::PASSWORD);
    AgentProc::spawn(command, home.path())
}

/// `mailseal queue list --json` for `home`.
pub fn queue_json(home: &Home) -> serde_json::Value {
    let run = home.run(&["queue", "list", "--json"], b"").ok();
    serde_json::from_slice(&run.stdout).expect("queue list --json")
}

/// The files in `HOME/spool/DIR`.
pub fn spool_files(home: &Home, dir: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(home.path().join("spool").join(dir))
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Writes a config.toml for `home`: relay `localhost:port` over STARTTLS
/// trusting `ca_file` (user alice, password from TEST_PW), the agent
/// password from AGENT_PW plus the `[agent]` lines `agent`, and
/// `[policy] default = policy`.
pub fn write_config(home: &Home, port: u16, ca_file: &std::path::Path, policy: &str, agent: &str) {
    home.write(
        "config.toml",
        format!(
            "[relay.default]\nhost = \"localhost\"\nport = {port}\ntls = \"starttls\"\nusername = \"alice\"\npassword = \"env:TEST_PW\"\nca_file = \"{}\"\ntimeout_secs = 5\n\n[agent]\npassword = \"env:AGENT_PW\"\n{agent}\n[policy]\ndefault = \"{policy}\"\n",
            ca_file.display()
        )
        .as_bytes(),
    );
}

/// The port of the agent's implicit-TLS listener (`listen_implicit`),
/// from its log.
pub fn implicit_port(agent: &AgentProc) -> u16 {
    assert!(
        wait_for(std::time::Duration::from_secs(10), || agent
            .log()
            .contains("implicit TLS on 127.0.0.1:")),
        "no implicit TLS listener:\n{}",
        agent.log()
    );
    agent
        .log()
        .split("implicit TLS on 127.0.0.1:")
        .nth(1)
        .unwrap()
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect::<String>()
        .parse()
        .unwrap()
}
