//! The `mailseal` command: parses the command line, calls the library,
//! prints results and maps errors to sysexits codes.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::main()
}
