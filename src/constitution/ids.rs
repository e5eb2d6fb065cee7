//! Names and fingerprints of constitutions: ids (slugs) made from names, the first free id
//! beside taken ones, and the content hash that names a version.
//!
//! Invariants: an id is 1 to [`MAX_ID_CHARS`] lower-case ASCII letters, digits and single
//! hyphens, with no hyphen at either end. A content hash is the sha256 of the canonical TOML
//! ([`super::to_toml`]), lower-case hex: two constitutions hash alike exactly when their
//! canonical files are byte for byte the same.

use sha2::{Digest, Sha256};

use super::Constitution;

/// The longest id.
pub const MAX_ID_CHARS: usize = 64;

/// An id made of `raw`: letters transliterated to ASCII ("Über" -> `uber`, "Политика" ->
/// `politika`), lower-cased, digits kept, other runs one `-`, at most [`MAX_ID_CHARS`]
/// characters, no `-` at either end. Empty when nothing in `raw` has an ASCII letter or digit
/// (punctuation alone; emoji become their names).
pub fn slugify(raw: &str) -> String {
    let mut slug = String::new();
    for c in deunicode::deunicode(raw).chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    slug.truncate(MAX_ID_CHARS);
    slug.trim_end_matches('-').to_owned()
}

/// `base` when `is_taken` says it is free, else the first free `base-2`, `base-3`, …, with `base`
/// cut so that each candidate stays within the id length limit.
pub fn first_free_id(base: &str, mut is_taken: impl FnMut(&str) -> bool) -> String {
    if !is_taken(base) {
        return base.to_owned();
    }
    let mut number = 2_usize;
    loop {
        let suffix = format!("-{number}");
        let stem_len = base.len().min(MAX_ID_CHARS.saturating_sub(suffix.len()));
        let stem = base.get(..stem_len).unwrap_or(base).trim_end_matches('-');
        let candidate = format!("{stem}{suffix}");
        if !is_taken(&candidate) {
            return candidate;
        }
        number += 1;
    }
}

/// The content hash of `constitution`: sha256 of its canonical TOML, lower-case hex.
pub fn content_hash(constitution: &Constitution) -> String {
    canonical_text_hash(&super::to_toml(constitution))
}

/// The content hash of canonical TOML text already written.
pub fn canonical_text_hash(content: &str) -> String {
    format!("{:x}", Sha256::digest(content.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_transliterate_letters_instead_of_dropping_them() {
        assert_eq!(slugify("Harmful 0"), "harmful-0");
        assert_eq!(slugify("  --Über_Fact--  "), "uber-fact");
        assert_eq!(slugify("Über"), "uber");
        assert_eq!(slugify("Политика"), "politika");
        assert_eq!(slugify("Café Crème"), "cafe-creme");
        assert_eq!(slugify("日本"), "ri-ben");
        assert_eq!(slugify("*** !!"), "");
        assert_eq!(slugify(&"a".repeat(100)).len(), MAX_ID_CHARS);
    }

    #[test]
    fn free_ids_count_up_and_stay_short_enough() {
        let taken = ["policy", "policy-2"];
        assert_eq!(
            first_free_id("policy", |id| taken.contains(&id)),
            "policy-3"
        );
        assert_eq!(first_free_id("fresh", |_| false), "fresh");
        let long = "a".repeat(MAX_ID_CHARS);
        let id = first_free_id(&long, |id| id == long);
        assert!(id.len() <= MAX_ID_CHARS && id.ends_with("-2"), "{id}");
    }
}
