//! What every check reports: a status that orders checks by risk, and one
//! line of text for people.

use serde::Serialize;

use crate::discover::dns::Answer;

/// The verdict of one check, most risky first (the derived order is the
/// order of the human report).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Published but broken: receivers ignore it (or refuse mail).
    Invalid,
    /// The check could not run (a DNS or HTTPS failure other than "none").
    Error,
    /// Not published, though it protects against something.
    Missing,
    /// Published with a setting that leaves a gap.
    Weak,
    /// Published and sound.
    Ok,
    /// Optional and not published.
    Absent,
}

impl Status {
    /// The word the human report starts the line with.
    pub fn label(self) -> &'static str {
        match self {
            Status::Invalid => "invalid",
            Status::Error => "error",
            Status::Missing => "missing",
            Status::Weak => "weak",
            Status::Ok => "ok",
            Status::Absent => "absent",
        }
    }
}

/// The DNSSEC status of an answer (an MX RRset, one MX host's TLSA
/// records).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Dnssec {
    /// Proved from the trust anchors: senders use the records.
    Secure,
    /// Not signed: senders ignore the records.
    Insecure,
    /// Signed but failing validation: senders defer mail.
    Bogus,
    /// No such record.
    Absent,
    /// The query failed.
    Error,
}

impl Dnssec {
    /// The status of `answer`, an answer from the validating resolver.
    pub fn of(answer: &Answer) -> Dnssec {
        if answer.secure {
            Dnssec::Secure
        } else if answer.proof.contains("Bogus") {
            Dnssec::Bogus
        } else {
            Dnssec::Insecure
        }
    }

    /// The status in words.
    pub fn label(self) -> &'static str {
        match self {
            Dnssec::Secure => "secure",
            Dnssec::Insecure => "insecure",
            Dnssec::Bogus => "bogus",
            Dnssec::Absent => "absent",
            Dnssec::Error => "error",
        }
    }
}

/// One line of the human report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub status: Status,
    /// The check's name (`SPF`, `MTA-STS`, ...).
    pub check: &'static str,
    /// What was found.
    pub text: String,
    /// What to change, when something should change.
    pub fix: Option<String>,
}
