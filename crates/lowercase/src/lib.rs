//! Unicode lowercase for the components: [`to_lowercase`] answers exactly what the
//! standard library's `str::to_lowercase` answers (full lowercase mapping of the
//! Unicode Character Database, with the final sigma rule of Unicode §3.13), for every
//! string, with tables of about 4 KB where the standard library's take about 13 KB.
//!
//! Why it exists: every Roster component lowercases (usernames, email addresses and
//! group names are unique case-insensitively, and their claims are keyed on the
//! lowercase form; the searches and SCIM filters compare case-insensitively), and with
//! `str::to_lowercase` each one carried the standard library's lowercase table
//! (1,462 pairs of `char`s, 11,696 bytes of data) plus its code — issue 16 asks for
//! every component under 400 KB. The stored claims depend on the exact lowercase form,
//! so this is not a new mapping: the tables ([`tables`]) are *generated from the
//! standard library itself* by `cargo xtask gen` (on the toolchain that builds the
//! components, whose `std` for the host and for wasm32-wasip2 are the same source), and
//! `make lint` (`cargo xtask gen --check`) fails when a toolchain with another Unicode
//! version would generate other tables. The tests compare [`to_lowercase`] with
//! `str::to_lowercase` for every `char` alone and in every final-sigma context.

mod tables;

use tables::{CASE_IGNORABLE, CASED, MAPPING};

/// The lowercase form of `s`: exactly `s.to_lowercase()` (see the crate's docs).
///
/// Each `char` maps to its full lowercase mapping (one `char`, except U+0130 LATIN
/// CAPITAL LETTER I WITH DOT ABOVE, which maps to `i` and U+0307 COMBINING DOT ABOVE);
/// U+03A3 GREEK CAPITAL LETTER SIGMA maps to `ς` at the end of a word (Unicode's
/// `Final_Sigma` condition: a cased letter before it, skipping case-ignorable ones, and
/// none after it) and to `σ` anywhere else.
pub fn to_lowercase(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for (i, c) in s.char_indices() {
        match c {
            'A'..='Z' => out.push(c.to_ascii_lowercase()),
            '\0'..='\x7f' => out.push(c),
            'Σ' => {
                let word_final = case_ignorable_then_cased(s[..i].chars().rev())
                    && !case_ignorable_then_cased(s[i + 'Σ'.len_utf8()..].chars());
                out.push(if word_final { 'ς' } else { 'σ' });
            }
            '\u{130}' => out.push_str("i\u{307}"),
            _ => out.push(lowercase_char(c)),
        }
    }
    out
}

/// `.lowercase()` on a string: [`to_lowercase`] (the same answers as `str::to_lowercase`)
/// as a method. `str::to_lowercase` itself is refused by clippy in the workspace
/// (`clippy.toml`), so that no component links the standard library's table again.
pub trait Lowercase {
    /// [`to_lowercase`] of `self`.
    fn lowercase(&self) -> String;
}

impl Lowercase for str {
    fn lowercase(&self) -> String {
        to_lowercase(self)
    }
}

/// The one-`char` lowercase mapping of `c` (`c` itself when it has none). U+0130, whose
/// mapping is two `char`s, is [`to_lowercase`]'s own case.
fn lowercase_char(c: char) -> char {
    let cp = u32::from(c);
    let i = MAPPING.partition_point(|&run| run_start(run) <= cp);
    let Some(&run) = i.checked_sub(1).and_then(|i| MAPPING.get(i)) else {
        return c;
    };
    let offset = cp - run_start(run);
    let stride = run_stride(run);
    if !offset.is_multiple_of(stride) || offset / stride >= run_len(run) {
        return c;
    }
    char::from_u32(cp.wrapping_add_signed(run_delta(run))).unwrap_or(c)
}

/// Whether the first `char` of `chars` that is not case-ignorable is cased (the two
/// halves of `Final_Sigma`, read backwards before the sigma and forwards after it).
fn case_ignorable_then_cased(mut chars: impl Iterator<Item = char>) -> bool {
    chars
        .find(|&c| !in_ranges(&CASE_IGNORABLE, c))
        .is_some_and(|c| in_ranges(&CASED, c))
}

/// Whether `c` is in one of `ranges` (sorted, disjoint; see [`range_start`]).
fn in_ranges(ranges: &[u32], c: char) -> bool {
    let cp = u32::from(c);
    let i = ranges.partition_point(|&r| range_start(r) <= cp);
    i.checked_sub(1)
        .and_then(|i| ranges.get(i))
        .is_some_and(|&r| cp < range_start(r) + range_len(r))
}

/// A run of [`MAPPING`]: bits 0–20 its first `char`, bits 21–28 how many `char`s it
/// maps, bit 29 set when it maps every second `char` (the upper- and lowercase letters
/// of many scripts alternate), bits 32–63 what each adds to its `char` (an `i32`).
const fn run_start(run: u64) -> u32 {
    (run & 0x1f_ffff) as u32
}

/// See [`run_start`].
const fn run_len(run: u64) -> u32 {
    ((run >> 21) & 0xff) as u32
}

/// See [`run_start`].
const fn run_stride(run: u64) -> u32 {
    if run & (1 << 29) == 0 { 1 } else { 2 }
}

/// See [`run_start`].
const fn run_delta(run: u64) -> i32 {
    (run >> 32) as u32 as i32
}

/// A range of [`CASE_IGNORABLE`] or [`CASED`]: bits 0–20 its first `char`, bits 21–31
/// how many `char`s it holds.
const fn range_start(range: u32) -> u32 {
    range & 0x1f_ffff
}

/// See [`range_start`].
const fn range_len(range: u32) -> u32 {
    range >> 21
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // std's `str::to_lowercase` is the reference
mod tests {
    use super::to_lowercase;

    fn same(s: &str) {
        assert_eq!(
            to_lowercase(s),
            s.to_lowercase(),
            "{s:?} ({:x?})",
            s.chars().map(u32::from).collect::<Vec<_>>()
        );
    }

    #[test]
    fn every_char_alone_and_in_every_final_sigma_context_is_what_std_says() {
        for c in (0..=0x10_FFFF).filter_map(char::from_u32) {
            same(&c.to_string());
            // Before a sigma (backwards: `c` decides, or is skipped and `A` decides),
            // after one (`c` decides whether the sigma ends the word), and between.
            same(&format!("{c}Σ"));
            same(&format!("A{c}Σ"));
            same(&format!("AΣ{c}"));
            same(&format!("AΣ{c}a"));
        }
    }

    #[test]
    fn words_and_sentences_are_what_std_says() {
        for s in [
            "",
            "Kim",
            "ΟΔΥΣΣΕΥΣ",
            "ὈΔΥΣΣΕΎΣ ΣΑ Σ",
            "ΑΣ.Σ'Σ\u{345}Σ",
            "İstanbul",
            "ǅemal ǄEMAL",
            "ẞtraße",
            "ΣΑΣ\u{301}",
            "Σ",
            "a\u{301}Σ",
            "\u{301}Σ",
            "ԱԲԳ ႠႡ Ⴀ ᏴᏵ ꭰ 𐐀𐐁 𞤀",
            "MiXeD-Case_123@Example.COM",
        ] {
            same(s);
        }
    }
}
