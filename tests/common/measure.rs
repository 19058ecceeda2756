//! Running a child on large data: its output hashed as it streams (never
//! held), and its peak memory (VmHWM) as GNU time reports it. The child
//! runs under `/usr/bin/time`, a small process: the kernel's record of a
//! child of the test process itself would include the test's own memory,
//! which the child shared until it executed.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use sha2::{Digest, Sha256};

/// What a measured child did.
pub struct Measured {
    pub code: i32,
    /// Bytes written to stdout.
    pub stdout_len: u64,
    /// SHA-256 of stdout after its header section (the first blank line).
    pub body_sha256: Vec<u8>,
    /// Stdout's header section, with the blank line.
    pub head: Vec<u8>,
    pub stderr: String,
    /// Peak resident memory, KiB.
    pub peak_kib: u64,
}

/// A text message of about `mib` MiB (CRLF) to `to`: base64 lines of
/// pseudo-random data, with a `marker` line after every thousand lines
/// when one is given (to look for plaintext where it must not be).
pub fn large_message(mib: usize, to: &str, marker: Option<&str>) -> Vec<u8> {
    use base64::Engine as _;
    let mut message = format!(
        "From: alice@example.org\r\nTo: {to}\r\nSubject: large\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n"
    )
    .into_bytes();
    let mut rng = super::XorShift(0x9e37_79b9_7f4a_7c15);
    let mut raw = vec![0u8; 57 * 1000];
    while message.len() < mib << 20 {
        for byte in raw.iter_mut() {
            *byte = rng.next_u64() as u8;
        }
        for line in raw.chunks(57) {
            let line = base64::engine::general_purpose::STANDARD.encode(line);
            message.extend_from_slice(line.as_bytes());
            message.extend_from_slice(b"\r\n");
        }
        if let Some(marker) = marker {
            message.extend_from_slice(marker.as_bytes());
            message.extend_from_slice(b"\r\n");
        }
    }
    message
}

/// A multipart/mixed message to `to`: the body of [`large_message`] of
/// `mib` MiB as a text/plain part, then `part` (a MIME entity, CRLF).
pub fn mixed_message(mib: usize, to: &str, marker: Option<&str>, part: &[u8]) -> Vec<u8> {
    let text = large_message(mib, to, marker);
    let body = &text[text.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4..];
    let mut message = format!(
        "From: alice@example.org\r\nTo: {to}\r\nSubject: mixed\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"mixed\"\r\n\r\n\
         --mixed\r\nContent-Type: text/plain\r\n\r\n"
    )
    .into_bytes();
    message.extend_from_slice(body);
    message.extend_from_slice(b"\r\n--mixed\r\n");
    message.extend_from_slice(part);
    message.extend_from_slice(b"\r\n--mixed--\r\n");
    message
}

/// A MIME entity of `levels` multipart/mixed entities, each holding the
/// next, around a text part.
pub fn nested_multiparts(levels: usize) -> Vec<u8> {
    let mut entity = Vec::new();
    for level in 0..levels {
        entity.extend_from_slice(
            format!("Content-Type: multipart/mixed; boundary=n{level}\r\n\r\n--n{level}\r\n")
                .as_bytes(),
        );
    }
    entity.extend_from_slice(b"Content-Type: text/plain\r\n\r\ndeep\r\n");
    for level in (0..levels).rev() {
        entity.extend_from_slice(format!("\r\n--n{level}--\r\n").as_bytes());
    }
    entity
}

/// SHA-256 of `data` after its header section (CRLF), as
/// [`Measured::body_sha256`].
pub fn body_sha256(data: &[u8]) -> Vec<u8> {
    let start = data
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(0, |p| p + 4);
    Sha256::digest(&data[start..]).to_vec()
}

/// Runs `command` with `stdin` and its stdout and stderr piped; `watch`
/// is called with the command's pid about every 50 ms while it runs.
pub fn run_measured(command: Command, stdin: Stdio, mut watch: impl FnMut(u32)) -> Measured {
    let report = tempfile::NamedTempFile::new().unwrap();
    let mut timed = Command::new("/usr/bin/time");
    timed
        .args(["-f", "%M", "-o"])
        .arg(report.path())
        .arg(command.get_program())
        .args(command.get_args());
    for (name, value) in command.get_envs() {
        match value {
            Some(value) => timed.env(name, value),
            None => timed.env_remove(name),
        };
    }
    let mut child = timed
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn /usr/bin/time (apt-get install time)");
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let hashing = std::thread::spawn(move || {
        let mut head = Vec::new();
        let mut hasher = Sha256::new();
        let mut in_body = false;
        let mut len = 0u64;
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = stdout.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            len += n as u64;
            if in_body {
                hasher.update(&buf[..n]);
                continue;
            }
            head.extend_from_slice(&buf[..n]);
            if let Some(p) = head.windows(4).position(|w| w == b"\r\n\r\n") {
                hasher.update(&head[p + 4..]);
                head.truncate(p + 4);
                in_body = true;
            }
        }
        if !in_body {
            hasher.update(&head);
            head.clear();
        }
        (len, hasher.finalize().to_vec(), head)
    });
    let reading = std::thread::spawn(move || {
        let mut text = String::new();
        stderr.read_to_string(&mut text).unwrap();
        text
    });
    let children = format!("/proc/{0}/task/{0}/children", child.id());
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        let pid = std::fs::read_to_string(&children)
            .ok()
            .and_then(|pids| pids.split_whitespace().next()?.parse().ok());
        if let Some(pid) = pid {
            watch(pid);
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let (stdout_len, body_sha256, head) = hashing.join().unwrap();
    // "Command exited with non-zero status N" may come first.
    let report = std::fs::read_to_string(report.path()).unwrap();
    let peak_kib = report
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or_else(|| panic!("no peak memory in {report:?}"));
    Measured {
        code: status.code().unwrap_or(-1),
        stdout_len,
        body_sha256,
        head,
        stderr: reading.join().unwrap(),
        peak_kib,
    }
}

/// Reads every regular file of at least 8 MiB that process `pid` has open
/// in `dir` and asserts that it does not hold `marker`; returns how many.
pub fn check_open_files(pid: u32, dir: &std::path::Path, marker: &str) -> usize {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return 0;
    };
    let mut checked = 0;
    for fd in fds.flatten() {
        let Ok(target) = std::fs::read_link(fd.path()) else {
            continue;
        };
        if !target.starts_with(dir) {
            continue;
        }
        let Ok(data) = std::fs::read(fd.path()) else {
            continue;
        };
        if data.len() < 8 << 20 {
            continue;
        }
        assert!(
            !data.windows(marker.len()).any(|w| w == marker.as_bytes()),
            "the temporary file {} holds plaintext",
            target.display()
        );
        checked += 1;
    }
    checked
}
