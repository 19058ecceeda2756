//! `mailseal completions SHELL`: print a shell completion script.

use clap_complete::Shell;

use mailseal::{Error, Result};

/// Print the completion script for SHELL on stdout.
///
/// Example: mailseal completions bash > /etc/bash_completion.d/mailseal
#[derive(clap::Args)]
pub struct Args {
    /// bash, zsh, fish, elvish or powershell.
    shell: Shell,
}

pub fn run(args: &Args, command: &mut clap::Command) -> Result<u8> {
    let mut out = Vec::new();
    clap_complete::generate(args.shell, command, "mailseal", &mut out);
    use std::io::Write;
    std::io::stdout()
        .write_all(&out)
        .map_err(|e| Error::io("writing to stdout", e))?;
    Ok(0)
}
