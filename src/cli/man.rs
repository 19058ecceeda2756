//! `mailseal man DIR`: write the manual pages, one per command (section 1,
//! from the clap definitions) and `mailseal-config.5` (from docs/config.md).

use std::path::{Path, PathBuf};

use mailseal::{Error, Result};

/// Write the manual pages into DIR.
///
/// One page per command and subcommand (mailseal.1, mailseal-encrypt.1,
/// mailseal-key-generate.1, ...) and mailseal-config.5, the configuration
/// reference. Packagers install them with the completions.
///
/// Example: mailseal man /usr/local/share/man/man1 && man mailseal-encrypt
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// The directory to write the pages into (created if missing).
    dir: PathBuf,
}

/// The configuration reference, converted to roff.
const CONFIG_REFERENCE: &str = include_str!("../../docs/config.md");

pub fn run(args: &Args, command: clap::Command) -> Result<u8> {
    std::fs::create_dir_all(&args.dir)
        .map_err(|e| Error::io(format!("creating {}", args.dir.display()), e))?;
    let mut command = command.disable_help_subcommand(true);
    // Building names every subcommand: bin name `mailseal key generate`,
    // display name `mailseal-key-generate`.
    command.build();
    write_pages(&args.dir, &command)?;
    write(
        &args.dir.join("mailseal-config.5"),
        markdown_to_roff(CONFIG_REFERENCE).as_bytes(),
    )?;
    Ok(0)
}

/// Writes the page of `command` and, recursively, of its subcommands,
/// named after their path (`mailseal-key-generate.1`).
fn write_pages(dir: &Path, command: &clap::Command) -> Result<()> {
    let man = clap_mangen::Man::new(command.clone());
    let mut page = Vec::new();
    man.render(&mut page)
        .map_err(|e| Error::io("rendering a manual page", e))?;
    write(&dir.join(man.get_filename()), &page)?;
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_pages(dir, sub)?;
    }
    Ok(())
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).map_err(|e| Error::io(format!("writing {}", path.display()), e))
}

/// Converts the subset of Markdown that docs/config.md uses (headings,
/// paragraphs, tables, fenced code, `code` spans, links) into a
/// `mailseal-config(5)` page.
fn markdown_to_roff(markdown: &str) -> String {
    let mut out = String::from(
        ".TH MAILSEAL-CONFIG 5 \"\" \"mailseal\" \"File Formats\"\n.SH NAME\nmailseal-config \\- the configuration file of mailseal\n",
    );
    let mut in_code = false;
    let mut in_table = false;
    for line in markdown.lines() {
        let table_row = line.starts_with('|');
        let header_row = table_row && !in_table;
        in_table = table_row;
        if line.starts_with("```") {
            out.push_str(if in_code { ".fi\n.RE\n" } else { ".RS\n.nf\n" });
            in_code = !in_code;
        } else if in_code {
            out.push_str(&escape(line));
            out.push('\n');
        } else if line.starts_with("# ") {
            out.push_str(".SH DESCRIPTION\n");
        } else if let Some(title) = line.strip_prefix("## ") {
            out.push_str(&format!(".SH {}\n", plain(title).to_uppercase()));
        } else if let Some(title) = line.strip_prefix("### ") {
            out.push_str(&format!(".SS {}\n", plain(title)));
        } else if let Some(row) = line.strip_prefix('|') {
            let cells: Vec<&str> = row
                .trim_end_matches('|')
                .split(" | ")
                .map(str::trim)
                .collect();
            // The header row and the `| --- |` below it are left out: each
            // entry reads as "name, then what it is".
            if header_row || cells.iter().all(|c| c.chars().all(|ch| ch == '-')) {
                continue;
            }
            out.push_str(&format!(
                ".TP\n{}\n{}\n",
                inline(cells[0]),
                inline(&cells[1..].join("; "))
            ));
        } else if line.trim().is_empty() {
            out.push_str(".PP\n");
        } else {
            out.push_str(&inline(line));
            out.push('\n');
        }
    }
    out
}

/// Escapes roff's control characters in literal text.
fn escape(text: &str) -> String {
    let text = text.replace('\\', "\\e").replace('-', "\\-");
    if text.starts_with('.') || text.starts_with('\'') {
        format!("\\&{text}")
    } else {
        text
    }
}

/// `code` in bold, links as their text.
fn inline(text: &str) -> String {
    let mut out = String::new();
    for (i, part) in escape(&plain_links(text)).split('`').enumerate() {
        if i % 2 == 1 {
            out.push_str(&format!("\\fB{part}\\fR"));
        } else {
            out.push_str(part);
        }
    }
    out
}

/// Heading text without Markdown marks.
fn plain(text: &str) -> String {
    escape(&plain_links(text).replace('`', ""))
}

/// `[text](target)` becomes `text`.
fn plain_links(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        let Some(close) = rest[open..].find("](").map(|i| open + i) else {
            break;
        };
        let Some(end) = rest[close..].find(')').map(|i| close + i) else {
            break;
        };
        out.push_str(&rest[..open]);
        out.push_str(&rest[open + 1..close]);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}
