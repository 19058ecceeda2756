//! The `mailseal` command: parses the command line, calls the library,
//! prints results and maps errors to sysexits codes.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    // Errors are printed as messages, never with a backtrace; capturing one
    // for every library error (RUST_BACKTRACE=1 turns that on, and sequoia
    // makes and drops errors on ordinary paths) is wasted work. Panics
    // still get theirs from RUST_BACKTRACE. Set before any thread starts.
    if std::env::var_os("RUST_LIB_BACKTRACE").is_none() {
        std::env::set_var("RUST_LIB_BACKTRACE", "0");
    }
    cli::main()
}
