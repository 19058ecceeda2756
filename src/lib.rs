//! mailseal: seal email end to end.
//!
//! The library turns RFC 5322 messages into signed and encrypted PGP/MIME
//! messages and back. It never prints and never exits: every failure is an
//! [`Error`] that says what went wrong, what the user can do about it, and
//! which sysexits code a command should end with.
//!
//! Data flows one way: bytes in, [`message`] (parse, canonicalize), [`seal`]
//! (choose keys per recipient), [`openpgp`] (encrypt, sign), bytes out.

pub mod agent;
mod chunks;
pub mod config;
pub mod discover;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod home;
pub mod keys;
pub mod message;
pub mod open;
pub mod openpgp;
pub mod output;
pub mod posture;
pub mod seal;
pub mod secrets;
pub mod smime;
pub mod spill;
pub mod spill_search;
pub mod submit;
#[cfg(test)]
mod test_rng;

pub use error::{Error, Result};
