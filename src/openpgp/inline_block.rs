//! Where an inline OpenPGP block is in a text, found in one pass piece by
//! piece (so that a text too large to hold is searched as a small one is),
//! and the verdict on a text part that holds a signed one.

use std::ops::Range;

use super::verify::{SignatureReport, Verification};
use crate::Result;

/// The armored blocks a text may hold inline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Armor {
    /// Clear-signed text (`gpg --clearsign`), up to its signature's end.
    ClearSigned,
    /// An OpenPGP message: signed (`gpg --armor --sign`) or encrypted.
    Message,
}

impl Armor {
    const ALL: [Armor; 2] = [Armor::ClearSigned, Armor::Message];

    /// The text a block starts with.
    pub const fn begin(self) -> &'static [u8] {
        match self {
            Armor::ClearSigned => b"-----BEGIN PGP SIGNED MESSAGE-----",
            Armor::Message => b"-----BEGIN PGP MESSAGE-----",
        }
    }

    /// The text a block ends with.
    pub const fn end(self) -> &'static [u8] {
        match self {
            Armor::ClearSigned => b"-----END PGP SIGNATURE-----",
            Armor::Message => b"-----END PGP MESSAGE-----",
        }
    }
}

/// The most bytes of the text before a piece that a begin or end text
/// may start in: one less than the longest of them.
const KEEP: usize = Armor::ClearSigned.begin().len() - 1;

/// Finds, in a text given piece by piece, the first block of each
/// [`Armor`] (from the first place its begin text is, anywhere, to the
/// first place its end text is after that), and where the text that is
/// not white space starts and ends.
#[derive(Default)]
pub struct BlockFinder {
    /// Per [`Armor::ALL`]: where its begin and its end text were found.
    found: [(Option<u64>, Option<u64>); 2],
    /// The first and the last byte that is not white space.
    ink: Option<(u64, u64)>,
    /// The end of the text before the next piece (at most [`KEEP`] bytes).
    tail: Vec<u8>,
    /// The length of the text so far.
    taken: u64,
}

/// Where the signed block of a text is, and whether text surrounds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextLayout {
    /// The block, if there is one.
    pub block: Option<(Armor, Range<u64>)>,
    /// The first and the last byte that is not white space, if any is.
    pub ink: Option<(u64, u64)>,
}

impl BlockFinder {
    /// The finder fed all of `text` at once.
    pub fn of(text: &[u8]) -> Self {
        let mut finder = BlockFinder::default();
        finder.take(text);
        finder
    }

    /// Takes the next piece of the text.
    pub fn take(&mut self, piece: &[u8]) {
        let blank = |b: &u8| b.is_ascii_whitespace();
        if let Some(first) = piece.iter().position(|b| !blank(b)) {
            let last = piece.iter().rposition(|b| !blank(b)).unwrap_or(first);
            let first = self
                .ink
                .map_or(self.taken + first as u64, |(first, _)| first);
            self.ink = Some((first, self.taken + last as u64));
        }
        // A marker that starts in the tail ends within KEEP bytes of the
        // piece; one that starts later is in the piece.
        let tail_start = self.taken - self.tail.len() as u64;
        let mut joint = std::mem::take(&mut self.tail);
        joint.extend_from_slice(&piece[..piece.len().min(KEEP)]);
        self.look(&joint, tail_start);
        self.look(piece, self.taken);
        self.taken += piece.len() as u64;
        // The new tail: the last KEEP bytes of the old one and the piece.
        if piece.len() >= KEEP {
            joint.clear();
            joint.extend_from_slice(&piece[piece.len() - KEEP..]);
        } else {
            joint.drain(..joint.len().saturating_sub(KEEP));
        }
        self.tail = joint;
    }

    /// Looks for the markers not found yet in `text`, which starts at
    /// `at` in the whole text.
    fn look(&mut self, text: &[u8], at: u64) {
        for (armor, (begin, end)) in Armor::ALL.into_iter().zip(&mut self.found) {
            if end.is_some() {
                continue;
            }
            if begin.is_none() {
                *begin = find_from(text, at, armor.begin(), at);
            }
            if let Some(start) = *begin {
                *end = find_from(text, at, armor.end(), start)
                    .map(|found| found + armor.end().len() as u64);
            }
        }
    }

    /// The first block of `armor`.
    pub fn block(&self, armor: Armor) -> Option<Range<u64>> {
        let index = Armor::ALL.iter().position(|&a| a == armor)?;
        match self.found[index] {
            (Some(start), Some(end)) => Some(start..end),
            _ => None,
        }
    }

    /// What was found: the block that starts first, of either kind.
    pub fn layout(&self) -> TextLayout {
        let block = Armor::ALL
            .into_iter()
            .filter_map(|armor| Some((armor, self.block(armor)?)))
            .min_by_key(|(_, block)| (block.start, block.end));
        TextLayout {
            block,
            ink: self.ink,
        }
    }
}

/// Where `needle` first is, at or after `from`, in `text`, which starts
/// at `at` in the whole text.
fn find_from(text: &[u8], at: u64, needle: &[u8], from: u64) -> Option<u64> {
    let skip = usize::try_from(from.saturating_sub(at)).ok()?;
    let found = memchr::memmem::find(text.get(skip..)?, needle)?;
    Some(at + (skip + found) as u64)
}

/// The verdict on the text part `described` ("part 2 (text/plain)") laid
/// out as `layout` says (its block, if any, a signed one): the block's
/// signatures, checked by `check`, and the text before and after it named
/// as unsigned; a part without a block is unsigned unless it is blank.
pub fn text_verification(
    described: &str,
    layout: TextLayout,
    check: impl FnOnce(Armor, Range<u64>) -> Result<Vec<SignatureReport>>,
) -> Result<Verification> {
    let Some((armor, block)) = layout.block else {
        return Ok(Verification {
            signatures: Vec::new(),
            unsigned_parts: layout
                .ink
                .map(|_| described.to_string())
                .into_iter()
                .collect(),
        });
    };
    let mut unsigned_parts = Vec::new();
    if layout.ink.is_some_and(|(first, _)| first < block.start) {
        unsigned_parts.push(format!("text before the signed block in {described}"));
    }
    if layout.ink.is_some_and(|(_, last)| last >= block.end) {
        unsigned_parts.push(format!("text after the signed block in {described}"));
    }
    Ok(Verification {
        signatures: check(armor, block)?,
        unsigned_parts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first block of `armor` as it was found before pieces: the
    /// first begin text, then the first end text after it.
    fn whole(text: &[u8], armor: Armor) -> Option<Range<u64>> {
        let find = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).position(|w| w == needle);
        let start = find(text, armor.begin())?;
        let end = find(&text[start..], armor.end())? + start + armor.end().len();
        Some(start as u64..end as u64)
    }

    #[test]
    fn pieces_find_what_the_whole_text_shows() {
        let words: [&[u8]; 12] = [
            Armor::ClearSigned.begin(),
            Armor::ClearSigned.end(),
            Armor::Message.begin(),
            Armor::Message.end(),
            b"-----BEGIN PGP ",
            b"-----END",
            b"SIGNATURE-----",
            b" ",
            b"\r\n",
            b"\t",
            b"text",
            b"-",
        ];
        let mut rng = crate::test_rng::XorShift::new(0x2545_f491_4f6c_dd1d);
        let mut next = |n: usize| rng.below(n);
        for _ in 0..3000 {
            let text: Vec<u8> = (0..next(16))
                .flat_map(|_| words[next(words.len())].to_vec())
                .collect();
            let mut finder = BlockFinder::default();
            let mut rest = text.as_slice();
            while !rest.is_empty() {
                let (piece, after) = rest.split_at(1 + next(rest.len().min(40)));
                finder.take(piece);
                rest = after;
            }
            for armor in Armor::ALL {
                assert_eq!(finder.block(armor), whole(&text, armor), "{text:?}");
            }
            let first = Armor::ALL
                .into_iter()
                .filter_map(|armor| Some((armor, whole(&text, armor)?)))
                .min_by_key(|(_, block)| (block.start, block.end));
            let blank = |b: &u8| b.is_ascii_whitespace();
            let ink = text.iter().position(|b| !blank(b)).map(|first| {
                let last = text.iter().rposition(|b| !blank(b)).unwrap();
                (first as u64, last as u64)
            });
            assert_eq!(
                finder.layout(),
                TextLayout { block: first, ink },
                "{text:?}"
            );
        }
    }
}
