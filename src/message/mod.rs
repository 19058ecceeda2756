//! RFC 5322 / MIME handling that keeps every byte under control: header
//! fields as they were written, multipart bodies split on their boundaries,
//! CRLF canonicalization, 7-bit transfer encoding for signed parts, and
//! RFC 9788 header protection.
//!
//! mail-parser interprets header values (addresses, Content-Type
//! parameters); the splitting is done here so that signed bytes are exactly
//! the bytes emitted.

pub mod author;
pub mod canon;
pub mod header;
pub mod mime;
pub mod protect;
pub mod signed_parts;
pub mod signing;
pub mod stream;
pub mod transfer;
pub mod walk;

pub use header::{Field, Headers};
