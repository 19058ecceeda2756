//! The agent's queue files as `queue list`, `queue flush` and the agent
//! read them: a damaged or hostile file in the spool (magic line, JSON
//! entry and state, copies) is reported, never a crash.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailseal::agent::spool::{Spool, Status};

const ID: &str = "0000000000000000000";

fuzz_target!(|data: &[u8]| {
    // Input: the queue file, optionally followed by "\0STATE\0" and a state file.
    let (msg, state) = match data.windows(7).position(|w| w == b"\0STATE\0") {
        Some(at) => (&data[..at], Some(&data[at + 7..])),
        None => (data, None),
    };
    let root = mailseal_fuzz::scratch().join("spool");
    let spool = Spool::open(&root).expect("spool");
    let queue = root.join("queue");
    std::fs::write(queue.join(format!("{ID}.msg")), msg).unwrap();
    if let Some(state) = state {
        std::fs::write(queue.join(format!("{ID}.state")), state).unwrap();
    }
    let _ = spool.list();
    if let Ok((_, copies)) = spool.open_message(Status::Queued, ID) {
        // Each copy's range lies within the file.
        let _: u64 = copies.iter().map(|c| c.size()).sum();
    }
    let _ = spool.entry(Status::Queued, ID);
    let _ = spool.state(Status::Queued, ID);
    for name in [format!("{ID}.msg"), format!("{ID}.state")] {
        let _ = std::fs::remove_file(queue.join(name));
    }
});
