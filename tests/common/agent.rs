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
