//! Writes N fresh Ed25519/X25519 certificates (user IDs userN@bench.example)
//! to stdout, binary, for the store-size benchmark in benches/table.sh.
//!
//! Usage: cargo run --release --example gen_certs -- 10000 > certs.pgp

use std::io::Write;

use sequoia_openpgp::cert::{CertBuilder, CipherSuite};
use sequoia_openpgp::serialize::Serialize;

fn main() -> anyhow::Result<()> {
    let count: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(10_000);
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for i in 0..count {
        let (cert, _) = CertBuilder::new()
            .set_cipher_suite(CipherSuite::Cv25519)
            .add_userid(format!("<user{i}@bench.example>"))
            .add_transport_encryption_subkey()
            .generate()?;
        cert.serialize(&mut out)?;
    }
    out.flush()?;
    Ok(())
}
