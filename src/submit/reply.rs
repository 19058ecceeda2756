//! SMTP replies (RFC 5321 §4.2): multi-line, with enhanced status codes
//! (RFC 3463), read with bounded line length and line count.

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt};

/// Longest reply line accepted (RFC 5321 allows 512; be lenient).
const MAX_LINE: u64 = 4096;
/// Most lines in one reply.
const MAX_LINES: usize = 128;

/// One complete server reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The three-digit code.
    pub code: u16,
    /// The enhanced status code (`5.7.8`), when the server sent one.
    pub enhanced: Option<String>,
    /// The text of every line, without code, separator or CRLF.
    pub lines: Vec<String>,
}

impl Reply {
    /// 2xx.
    pub fn is_positive(&self) -> bool {
        (200..300).contains(&self.code)
    }

    /// 4xx.
    pub fn is_transient(&self) -> bool {
        (400..500).contains(&self.code)
    }

    /// The reply as the server worded it, on one line.
    pub fn text(&self) -> String {
        let mut out = self.code.to_string();
        if let Some(e) = &self.enhanced {
            out.push(' ');
            out.push_str(e);
        }
        let words = self.lines.join(" / ");
        if !words.is_empty() {
            out.push(' ');
            out.push_str(&words);
        }
        out
    }

    /// Parses the lines of a reply: `code[-| ]text`.
    pub fn parse(raw: &[String]) -> Option<Reply> {
        let mut code = None;
        let mut lines = Vec::new();
        let mut enhanced = None;
        for line in raw {
            let bytes = line.as_bytes();
            if bytes.len() < 3 || !bytes[..3].iter().all(u8::is_ascii_digit) {
                return None;
            }
            let this: u16 = line[..3].parse().ok()?;
            if code.is_some_and(|c| c != this) || !(200..600).contains(&this) {
                return None;
            }
            code = Some(this);
            let text = line.get(4..).unwrap_or("");
            let text = match enhanced_code(text, this) {
                Some((e, rest)) => {
                    enhanced.get_or_insert(e);
                    rest
                }
                None => text,
            };
            lines.push(text.to_string());
        }
        Some(Reply {
            code: code?,
            enhanced,
            lines,
        })
    }
}

/// Splits `x.y.z rest` off `text` when `x` matches the reply class.
fn enhanced_code(text: &str, code: u16) -> Option<(String, &str)> {
    let (first, rest) = text.split_once(' ').unwrap_or((text, ""));
    let parts: Vec<&str> = first.split('.').collect();
    let ok = parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
        && parts[0] == (code / 100).to_string();
    ok.then(|| (first.to_string(), rest))
}

/// Why a reply could not be read.
#[derive(Debug)]
pub enum ReadError {
    Io(std::io::Error),
    Closed,
    Malformed(String),
}

/// Reads one complete reply.
pub async fn read_reply<R: AsyncBufRead + Unpin>(reader: &mut R) -> Result<Reply, ReadError> {
    let mut raw = Vec::new();
    loop {
        let mut line = Vec::new();
        let n = (&mut *reader)
            .take(MAX_LINE)
            .read_until(b'\n', &mut line)
            .await
            .map_err(ReadError::Io)?;
        if n == 0 {
            return Err(ReadError::Closed);
        }
        if !line.ends_with(b"\n") {
            return Err(ReadError::Malformed("reply line too long".into()));
        }
        while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            line.pop();
        }
        let text = String::from_utf8_lossy(&line).into_owned();
        let last = text.as_bytes().get(3) != Some(&b'-');
        raw.push(text);
        if raw.len() > MAX_LINES {
            return Err(ReadError::Malformed("reply has too many lines".into()));
        }
        if last {
            break;
        }
    }
    Reply::parse(&raw).ok_or_else(|| {
        let shown: String = raw.join(" / ").chars().take(200).collect();
        ReadError::Malformed(format!("not an SMTP reply: {shown:?}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn multiline_with_enhanced_codes() {
        let mut input: &[u8] =
            b"250-mx.example at your service\r\n250-SIZE 1000\r\n250 STARTTLS\r\n";
        let r = read_reply(&mut input).await.unwrap();
        assert_eq!(r.code, 250);
        assert_eq!(
            r.lines,
            ["mx.example at your service", "SIZE 1000", "STARTTLS"]
        );
        let mut input: &[u8] = b"535 5.7.8 Authentication credentials invalid\r\n";
        let r = read_reply(&mut input).await.unwrap();
        assert_eq!(r.enhanced.as_deref(), Some("5.7.8"));
        assert_eq!(r.text(), "535 5.7.8 Authentication credentials invalid");
    }

    #[tokio::test]
    async fn garbage_and_mixed_codes_are_errors() {
        let mut input: &[u8] = b"250-a\r\n251 b\r\n";
        assert!(matches!(
            read_reply(&mut input).await,
            Err(ReadError::Malformed(_))
        ));
        let mut input: &[u8] = b"hello\r\n";
        assert!(matches!(
            read_reply(&mut input).await,
            Err(ReadError::Malformed(_))
        ));
        let mut input: &[u8] = b"250-a\r\n";
        assert!(matches!(
            read_reply(&mut input).await,
            Err(ReadError::Closed)
        ));
    }
}
