//! TXT records and the `tag=value; tag=value` syntax that MTA-STS,
//! TLS-RPT, DMARC, DKIM and BIMI records share.

use hickory_resolver::proto::rr::{RData, RecordType};

use crate::discover::dns::{QueryError, Resolver};

/// The TXT records at `name`, each one's strings joined; no record is an
/// empty list.
pub async fn lookup(resolver: &Resolver, name: &str) -> Result<Vec<String>, QueryError> {
    match resolver.query(&fqdn(name), RecordType::TXT).await {
        Ok(answer) => Ok(strings(&answer.records)),
        Err(QueryError::NoRecords) => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// The text of each TXT record in `records`.
pub fn strings(records: &[RData]) -> Vec<String> {
    records
        .iter()
        .filter_map(|r| match r {
            RData::TXT(txt) => Some(
                txt.txt_data
                    .iter()
                    .map(|s| String::from_utf8_lossy(s).into_owned())
                    .collect(),
            ),
            _ => None,
        })
        .collect()
}

/// `name` with a final dot, so that no search domain is appended.
pub fn fqdn(name: &str) -> String {
    format!("{}.", name.trim_end_matches('.'))
}

/// Whether `record` starts with the tag `v=VERSION` (case-insensitive).
pub fn has_version(record: &str, version: &str) -> bool {
    match tags(record) {
        Ok(tags) => tags
            .first()
            .is_some_and(|(k, v)| k == "v" && v.eq_ignore_ascii_case(version)),
        Err(_) => false,
    }
}

/// The tags of `record` in order, names lowercased, values trimmed; an
/// entry without `=` is an error.
pub fn tags(record: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for part in record.split(';') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (name, value) = part
            .split_once('=')
            .ok_or_else(|| format!("{part:?} is not tag=value"))?;
        out.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    Ok(out)
}

/// The value of tag `name` in `tags`.
pub fn tag<'a>(tags: &'a [(String, String)], name: &str) -> Option<&'a str> {
    tags.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_parse() {
        let t = tags("v=DMARC1; p=reject;rua=mailto:a@example.org ;").unwrap();
        assert_eq!(tag(&t, "p"), Some("reject"));
        assert_eq!(tag(&t, "rua"), Some("mailto:a@example.org"));
        assert!(tags("v=DMARC1; reject").is_err());
        assert!(has_version("V=stsv1; id=1", "STSv1"));
        assert!(!has_version("id=1; v=STSv1", "STSv1"));
    }
}
