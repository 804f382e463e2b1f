//! The `q` search index: monotone n-gram presence flags per search batch.
//!
//! Users' search entries (`users/search/{n}`, see [`crate::users::search_text`]) are
//! grouped in batches of [`SEARCH_BATCH`] sequence numbers. For every n-gram (1 to
//! [`MAX_GRAM`] characters, within one field) of an entry's text, a flag
//! [`keys::user_ngram`] says "some entry of this batch holds it". A `q` search reads the
//! flags of q's n-grams for every batch (a few thousand tiny keys for a million users,
//! [`FLAG_READS_PER_CALL`] per call), and reads and filters only the batches flagged for
//! all of them, in order, until its page is full.
//!
//! Flags are written before the entry that needs them ([`flag`]) and never cleared: an
//! interrupted write leaves a superset (a stale flag only costs reading one batch), two
//! writers setting the same flag write the same value (no read-modify-write, so no
//! lost update), and a removal, which deletes the entry, does not touch them. The
//! invariant ([`crate::invariants`]): every n-gram of every search entry is flagged in
//! the entry's batch.

use crate::error::DomainError;
use crate::keys;
use crate::model::Organization;
use crate::store::Store;
use std::collections::BTreeSet;

/// How many consecutive sequence numbers one search batch spans (and one batch read of
/// search entries fetches).
pub const SEARCH_BATCH: i64 = 1_000;

/// The longest n-gram flagged. A `q` of `MAX_GRAM` characters or more is looked up by
/// its `MAX_GRAM`-grams; a shorter one by itself (every shorter n-gram is flagged too).
/// Four, not three: with trigrams, sequential identifiers (every batch holds every
/// three-digit run) leave a tenth of all batches as candidates.
pub const MAX_GRAM: usize = 4;

/// Most of q's n-grams one search looks up (spread over q, so that together they cover
/// it); the entries read are re-checked against q in full anyway.
pub const MAX_QUERY_GRAMS: usize = 6;

/// Most flags one batch read asks for.
pub const FLAG_READS_PER_CALL: usize = 1_000;

/// The value of a flag.
pub const FLAG: &[u8] = b"1";

/// The batch holding sequence number `seq` (≥ 1): `(seq − 1) / SEARCH_BATCH`.
pub fn batch_of(seq: i64) -> i64 {
    (seq - 1).div_euclid(SEARCH_BATCH)
}

/// Whether `c` separates fields or texts in a search entry (never part of an n-gram).
fn is_separator(c: char) -> bool {
    c == crate::users::FIELD_SEPARATOR || c == crate::users::RECORD_SEPARATOR
}

/// Every distinct n-gram of 1 to [`MAX_GRAM`] characters of `text` that lies within one
/// field (no separator inside), in a stable order.
pub fn grams(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for field in text.split(is_separator) {
        let chars: Vec<char> = field.chars().collect();
        for n in 1..=MAX_GRAM.min(chars.len()) {
            for w in chars.windows(n) {
                out.insert(w.iter().collect());
            }
        }
    }
    out
}

/// The n-grams a search for `needle` (already lowercased) looks up: the needle itself
/// when shorter than [`MAX_GRAM`], otherwise [`MAX_GRAM`]-grams starting every
/// [`MAX_GRAM`] characters plus the last one (so that together they cover the
/// needle), at most [`MAX_QUERY_GRAMS`] of them. Empty for an empty needle (every
/// batch is a candidate).
pub fn query_grams(needle: &str) -> Vec<String> {
    let chars: Vec<char> = needle.chars().collect();
    if chars.is_empty() || chars.iter().any(|c| is_separator(*c)) {
        return Vec::new();
    }
    if chars.len() <= MAX_GRAM {
        return vec![needle.to_owned()];
    }
    let last = chars.len() - MAX_GRAM;
    let mut starts: Vec<usize> = (0..=last).step_by(MAX_GRAM).collect();
    if starts.last() != Some(&last) {
        starts.push(last);
    }
    if starts.len() > MAX_QUERY_GRAMS {
        // Keep the first ones and the last one.
        starts.drain(MAX_QUERY_GRAMS - 1..starts.len() - 1);
    }
    let mut out: Vec<String> = Vec::new();
    for s in starts {
        let g: String = chars[s..s + MAX_GRAM].iter().collect();
        if !out.contains(&g) {
            out.push(g);
        }
    }
    out
}

/// The flag keys of every n-gram of `text` in the batch of `seq`.
pub fn flag_keys(org: &Organization, seq: i64, text: &str) -> Vec<String> {
    let batch = batch_of(seq);
    grams(text)
        .iter()
        .map(|g| keys::user_ngram(&org.id, &keys::ngram_digest(&org.salt, g), batch))
        .collect()
}

/// Flags every n-gram of `text` (a user's search text) in the batch of `seq`, so that
/// an entry holding `text` at `seq` may be written afterwards. One batch read of the
/// flags, then one batch write of those missing (none when all are there, as in a
/// batch whose users share most n-grams). Idempotent; safe to interrupt anywhere.
pub async fn flag<S: Store>(
    store: &S,
    org: &Organization,
    seq: i64,
    text: &str,
) -> Result<(), DomainError> {
    let keys = flag_keys(org, seq, text);
    let present = store.get_many(&keys).await?;
    let missing: Vec<(String, Vec<u8>)> = keys
        .into_iter()
        .zip(present)
        .filter(|(_, v)| v.is_none())
        .map(|(k, _)| (k, FLAG.to_vec()))
        .collect();
    if !missing.is_empty() {
        store.set_many(&missing).await?;
    }
    Ok(())
}

/// The batches in `from ..= to` flagged for every one of `grams` (all of them when
/// `grams` is empty), in order: [`FLAG_READS_PER_CALL`] flags per store call.
pub async fn candidates<S: Store>(
    store: &S,
    org: &Organization,
    grams: &[String],
    from: i64,
    to: i64,
) -> Result<Vec<i64>, DomainError> {
    if grams.is_empty() || from > to {
        return Ok((from..=to).collect());
    }
    let digests: Vec<String> = grams
        .iter()
        .map(|g| keys::ngram_digest(&org.salt, g))
        .collect();
    let keys: Vec<String> = (from..=to)
        .flat_map(|b| digests.iter().map(move |d| (b, d)))
        .map(|(b, d)| keys::user_ngram(&org.id, d, b))
        .collect();
    let per_call = (FLAG_READS_PER_CALL / digests.len()).max(1) * digests.len();
    let mut out = Vec::new();
    let mut batch = from;
    for chunk in keys.chunks(per_call) {
        let values = store.get_many(chunk).await?;
        for flags in values.chunks(digests.len()) {
            if flags.iter().all(Option::is_some) {
                out.push(batch);
            }
            batch += 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grams_stay_within_fields() {
        let g = grams("ab\u{1f}cd");
        let expected: BTreeSet<String> = ["a", "b", "ab", "c", "d", "cd"].map(String::from).into();
        assert_eq!(g, expected);
        assert!(grams("abcde").contains("abcd"));
        assert!(!grams("abcde").contains("abcde"));
        // Characters, not bytes.
        assert!(grams("jürg").contains("jürg"));
    }

    #[test]
    fn query_grams_cover_the_needle() {
        assert_eq!(query_grams("ab"), vec!["ab"]);
        assert_eq!(query_grams("abcd"), vec!["abcd"]);
        assert_eq!(query_grams("u0999999"), vec!["u099", "9999"]);
        assert_eq!(query_grams("abcdefghij"), vec!["abcd", "efgh", "ghij"]);
        assert!(query_grams("").is_empty());
        let long: String = ('a'..='z').collect();
        let q = query_grams(&long);
        assert_eq!(q.len(), MAX_QUERY_GRAMS);
        assert_eq!(q.last().map(String::as_str), Some("wxyz"));
        // Every looked-up gram is one the entry's text flags.
        for g in query_grams("kernighan") {
            assert!(grams("brian kernighan").contains(&g));
        }
    }

    #[test]
    fn batches_span_a_thousand_sequence_numbers() {
        assert_eq!(batch_of(1), 0);
        assert_eq!(batch_of(1000), 0);
        assert_eq!(batch_of(1001), 1);
    }
}
