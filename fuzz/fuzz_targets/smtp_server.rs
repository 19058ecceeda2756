//! The agent's SMTP server: a real agent runs in this process on
//! 127.0.0.1 (port 0) and every input is one client session's bytes,
//! sent over TCP; the session must end once the client has sent
//! everything and closed its side.
//!
//! An input whose first line is `#auth` goes (without that line) to a
//! second agent that requires AUTH (user `mailseal`, password `fuzz`);
//! the others go to an agent without AUTH, so every command is reachable.
//! Both seal with policy "plain" and never look keys up; the relay they
//! would deliver to is a closed port on 127.0.0.1. Accepted messages are
//! removed from the queue after each input.
#![no_main]

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use mailseal::agent::{address_file, Agent, Settings};
use mailseal::config::Config;
use mailseal::home::Home;
use mailseal::keys::Unlocker;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Longest a session may take after the client's last byte.
const SESSION_LIMIT: Duration = Duration::from_secs(30);

struct Running {
    address: SocketAddr,
    queue: PathBuf,
}

fn start(name: &str, agent_section: &str) -> Running {
    let dir = mailseal_fuzz::scratch().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let text = format!(
        r#"
[relay.default]
host = "127.0.0.1"
port = 9
tls = "implicit"
timeout_secs = 2

[policy]
default = "plain"
sign = false
encrypt_to_self = false

[discovery]
auto = false
methods = ["store"]

[agent]
listen = "127.0.0.1:0"
max_message_size = 65536
{agent_section}
"#
    );
    std::fs::write(dir.join("config.toml"), &text).unwrap();
    let home = Home::locate(Some(dir.clone())).expect("home");
    let config = Config::parse(&text, &home.config_file()).expect("config");
    let settings = Settings::from_config(&config, &home.config_file(), None).expect("settings");
    let agent = Agent {
        home: home.clone(),
        config: Arc::new(config),
        unlocker: Unlocker::default(),
        settings,
        log: Arc::new(|_: &str| {}),
        verbose: false,
        listen_override: None,
    };
    let name = name.to_string();
    std::thread::spawn(move || {
        let result = agent.run();
        panic!("the {name} agent stopped: {result:?}");
    });
    let file = address_file(&home);
    for _ in 0..600 {
        if let Ok(text) = std::fs::read_to_string(&file) {
            if let Ok(address) = text.trim().parse() {
                return Running {
                    address,
                    queue: home.spool_dir().join("queue"),
                };
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the agent did not start within 30 s");
}

fn agents() -> &'static (Running, Running, tokio::runtime::Runtime) {
    static AGENTS: OnceLock<(Running, Running, tokio::runtime::Runtime)> = OnceLock::new();
    AGENTS.get_or_init(|| {
        std::env::set_var("MAILSEAL_FUZZ_AGENT_PASSWORD", "fuzz");
        let open = start("agent-open", "auth = \"none\"");
        let auth = start(
            "agent-auth",
            "auth = \"required\"\nusername = \"mailseal\"\npassword = \"env:MAILSEAL_FUZZ_AGENT_PASSWORD\"",
        );
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        (open, auth, runtime)
    })
}

/// Sessions come from changing loopback addresses, so that a per-source
/// login limit does not turn into the fuzzer's bottleneck.
fn next_source() -> SocketAddr {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let ip = Ipv4Addr::new(127, 1 + (n >> 16 & 0x7f) as u8, (n >> 8) as u8, n as u8 | 1);
    SocketAddr::V4(SocketAddrV4::new(ip, 0))
}

fuzz_target!(|data: &[u8]| {
    let (open, auth, runtime) = agents();
    let (agent, input) = match data.strip_prefix(b"#auth\n") {
        Some(rest) => (auth, rest),
        None => (open, data),
    };
    let session = async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(next_source()).unwrap();
        let stream = socket
            .connect(agent.address)
            .await
            .expect("the agent accepts");
        let (mut reader, mut writer) = stream.into_split();
        let send = async move {
            // The agent may close first (too many errors): not a failure.
            let _ = writer.write_all(input).await;
            let _ = writer.shutdown().await;
        };
        let mut replies = Vec::new();
        let receive = reader.read_to_end(&mut replies);
        let (_, received) = tokio::join!(send, receive);
        let _ = received;
        replies
    };
    let replies = runtime
        .block_on(async { tokio::time::timeout(SESSION_LIMIT, session).await })
        .expect("the agent ended the session within 30 s of the client's EOF");
    assert!(
        replies.starts_with(b"220 ") || replies.starts_with(b"421 "),
        "no greeting: {:?}",
        String::from_utf8_lossy(&replies[..replies.len().min(200)])
    );
    if let Ok(entries) = std::fs::read_dir(&agent.queue) {
        for entry in entries.flatten() {
            let _ = std::fs::remove_file(entry.path());
        }
    }
});
