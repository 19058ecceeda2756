//! Colour for human output on a terminal: only when stdout is one,
//! `NO_COLOR` is unset or empty (<https://no-color.org>) and `TERM` is not
//! `dumb`. Colour marks risk; the words alone always say it all.

use std::io::IsTerminal;

/// How a piece of output reads for the user's safety.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// Protected as well as mailseal can: green.
    Good,
    /// Protected, with a gap worth knowing: yellow.
    Caution,
    /// Exposed or refused: red.
    Bad,
}

/// Paints text, or leaves it as it is.
#[derive(Debug, Clone, Copy)]
pub struct Painter {
    on: bool,
}

impl Painter {
    /// For stdout, as the environment says.
    pub fn for_stdout() -> Painter {
        Painter {
            on: wanted(
                std::io::stdout().is_terminal(),
                std::env::var_os("NO_COLOR").as_deref(),
                std::env::var_os("TERM").as_deref(),
            ),
        }
    }

    /// `text` in the colour of `tone`.
    pub fn paint(self, tone: Tone, text: &str) -> String {
        if !self.on {
            return text.to_string();
        }
        let code = match tone {
            Tone::Good => "32",
            Tone::Caution => "33",
            Tone::Bad => "31",
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    }
}

/// Whether to colour: a terminal, no (non-empty) `NO_COLOR`, not `dumb`.
fn wanted(
    terminal: bool,
    no_color: Option<&std::ffi::OsStr>,
    term: Option<&std::ffi::OsStr>,
) -> bool {
    terminal && no_color.is_none_or(|v| v.is_empty()) && term.is_none_or(|t| t != "dumb")
}
