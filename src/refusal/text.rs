//! Text preparation: normalising, setting code and quotes aside, and cutting the response into
//! sentences and clauses.

use super::*;

/// Lower case, straight quotes and apostrophes, dashes as ` - `, non-breaking spaces as spaces.
pub(super) fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\u{2019}' | '\u{2018}' | '\u{02bc}' | '\u{201b}' | '\u{2032}' => out.push('\''),
            '\u{201c}' | '\u{201d}' | '\u{201e}' | '\u{201f}' | '\u{2033}' | '\u{ab}'
            | '\u{bb}' => out.push('"'),
            '\u{2014}' | '\u{2013}' | '\u{2015}' => out.push_str(" - "),
            '\u{a0}' | '\u{2009}' | '\u{202f}' | '\t' => out.push(' '),
            '\r' => {}
            _ => out.extend(c.to_lowercase()),
        }
    }
    out
}

/// The phrase lists that texts are matched against, by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Lex {
    FixedRefusal,
    ForeignRefusal,
    Negation,
    Dont,
    Elided,
    AiDisclaimer,
    Filler,
    Pivot,
    EmpathyWord,
    Crisis,
    Target,
    ReferralVerb,
    Hedge,
    Moral,
    Write,
    Decline,
}

pub(super) const LEXICONS: &[(Lex, &[&str])] = &[
    (Lex::FixedRefusal, FIXED_REFUSALS),
    (Lex::ForeignRefusal, FOREIGN_REFUSALS),
    (Lex::Negation, NEGATION_HEADS),
    (Lex::Dont, DONT_HEADS),
    (Lex::Elided, ELIDED_HEADS),
    (Lex::AiDisclaimer, AI_DISCLAIMERS),
    (Lex::Filler, FILLER),
    (Lex::Pivot, PIVOTS),
    (Lex::EmpathyWord, EMPATHY_WORDS),
    (Lex::Crisis, CRISIS),
    (Lex::Target, REFERRAL_TARGETS),
    (Lex::ReferralVerb, REFERRAL_VERBS),
    (Lex::Hedge, HEDGES),
    (Lex::Moral, MORAL),
    (Lex::Write, WRITE_WORDS),
    (Lex::Decline, DECLINE_WORDS),
];

/// One phrase of a lexicon, split into words.
pub(super) struct Entry {
    pub(super) lex: Lex,
    pub(super) phrase: &'static str,
    pub(super) words: Vec<&'static str>,
}

/// Every lexicon phrase, keyed by its first word, built once.
pub(super) fn lexicon_index() -> &'static HashMap<&'static str, Vec<Entry>> {
    static INDEX: OnceLock<HashMap<&'static str, Vec<Entry>>> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut index: HashMap<&'static str, Vec<Entry>> = HashMap::new();
        for &(lex, phrases) in LEXICONS {
            for &phrase in phrases {
                let words: Vec<&'static str> =
                    phrase.split(' ').filter(|w| !w.is_empty()).collect();
                if let Some(&first) = words.first() {
                    index
                        .entry(first)
                        .or_default()
                        .push(Entry { lex, phrase, words });
                }
            }
        }
        index
    })
}

/// A lexicon phrase found in a text, at words `at..end`.
pub(super) struct Match {
    pub(super) lex: Lex,
    pub(super) phrase: &'static str,
    pub(super) at: usize,
    pub(super) end: usize,
}

/// A text as its words (keeping inner apostrophes and `&`: `can't`, `a&e`), with every
/// lexicon phrase found in it. Found in one pass: each word is looked up once in
/// [`lexicon_index`].
pub(super) struct Tokens {
    pub(super) words: Vec<String>,
    pub(super) matches: Vec<Match>,
}

impl Tokens {
    pub(super) fn new(text: &str) -> Tokens {
        let words: Vec<String> = words(text).map(str::to_owned).collect();
        let index = lexicon_index();
        let mut matches = Vec::new();
        for (at, word) in words.iter().enumerate() {
            let Some(entries) = index.get(word.as_str()) else {
                continue;
            };
            for entry in entries {
                let end = at + entry.words.len();
                let found = words
                    .get(at..end)
                    .is_some_and(|ws| ws.iter().zip(&entry.words).all(|(a, b)| a == b));
                if found {
                    matches.push(Match {
                        lex: entry.lex,
                        phrase: entry.phrase,
                        at,
                        end,
                    });
                }
            }
        }
        Tokens { words, matches }
    }

    pub(super) fn of(&self, lex: Lex) -> impl Iterator<Item = &Match> {
        self.matches.iter().filter(move |m| m.lex == lex)
    }

    pub(super) fn any(&self, lex: Lex) -> bool {
        self.of(lex).next().is_some()
    }

    /// The earliest phrase of `lex` in the text.
    pub(super) fn first(&self, lex: Lex) -> Option<&'static str> {
        self.of(lex).next().map(|m| m.phrase)
    }

    /// Whether a phrase of `lex` starts within the first `max_skip + 1` words.
    pub(super) fn near_start(&self, lex: Lex, max_skip: usize) -> bool {
        self.of(lex).any(|m| m.at <= max_skip)
    }

    /// How many different phrases of `lex` occur.
    pub(super) fn distinct(&self, lex: Lex) -> usize {
        let mut seen: Vec<&str> = self.of(lex).map(|m| m.phrase).collect();
        seen.sort_unstable();
        seen.dedup();
        seen.len()
    }

    /// Whether the text starts with `phrase`, possibly after an interjection ("oh", "well").
    pub(super) fn starts_with(&self, phrase: &str) -> bool {
        let interjection = self
            .words
            .first()
            .is_some_and(|w| matches!(w.as_str(), "oh" | "well" | "look" | "hmm" | "okay" | "ok"));
        self.starts_with_at(phrase, 0) || (interjection && self.starts_with_at(phrase, 1))
    }

    /// Whether the whole text is `phrase`.
    pub(super) fn is(&self, phrase: &str) -> bool {
        self.words.len() == phrase.split(' ').count() && self.starts_with_at(phrase, 0)
    }

    /// Whether `phrase` stands at word `at`.
    pub(super) fn starts_with_at(&self, phrase: &str, at: usize) -> bool {
        let mut words = self.words.iter().skip(at);
        phrase
            .split(' ')
            .all(|p| words.next().is_some_and(|w| w == p))
    }
}

pub(super) fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '&'))
        .map(|w| w.trim_matches(|c| c == '\'' || c == '&'))
        .filter(|w| !w.is_empty())
}

/// Placeholder words left where quoted passages and inline code stood.
pub(super) const QUOTE_MARK: &str = "qqquoteqq";
pub(super) const CODE_MARK: &str = "qqcodeqq";

/// One clause of the response, ready for matching.
pub(super) struct Clause {
    /// The clause's words, quotes and code replaced by marks, with the phrases found.
    pub(super) tokens: Tokens,
    /// Words, not counting the marks.
    pub(super) words: usize,
    /// Words inside the quoted passages this clause holds.
    pub(super) quote_words: usize,
    /// Inline code spans in the clause.
    pub(super) code_spans: usize,
    /// Whether the clause is a list item (`1.`, `-`, `*`, `•` at the start of its line).
    pub(super) list_item: bool,
    /// Whether the clause holds a figure (a word with a digit).
    pub(super) has_digits: bool,
}

impl Clause {
    /// The clause's weight as content: its words and quoted words, plus a little for list
    /// items, inline code and figures.
    pub(super) fn substance(&self) -> usize {
        self.words
            + self.quote_words
            + 3 * self.code_spans
            + if self.list_item { 3 } else { 0 }
            + if self.has_digits { 2 } else { 0 }
    }
}

/// A response cut into clauses.
pub(super) struct Parsed {
    pub(super) clauses: Vec<Clause>,
    pub(super) code_words: usize,
    pub(super) list_items: usize,
    pub(super) total_quote_words: usize,
}

impl Parsed {
    pub(super) fn new(response: &str) -> Parsed {
        let text = normalize(response);
        let (text, code_words) = strip_code_blocks(&text);
        let text = strip_inline_code(&text);
        let (text, quotes) = strip_quotes(&text);
        let total_quote_words: usize = quotes.iter().sum();
        let mut next_quote = 0;
        let mut clauses = Vec::new();
        let mut list_items = 0;
        for line in text.split('\n') {
            let trimmed = line.trim_start();
            let list_item = is_list_marker(trimmed);
            if list_item {
                list_items += 1;
            }
            for (i, sentence) in split_sentences(trimmed).into_iter().enumerate() {
                for piece in split_clauses(sentence) {
                    let tokens = Tokens::new(piece);
                    let mut words = 0;
                    let mut quote_words = 0;
                    let mut code_spans = 0;
                    let mut has_digits = false;
                    for w in &tokens.words {
                        if w == QUOTE_MARK {
                            quote_words += quotes.get(next_quote).copied().unwrap_or(0);
                            next_quote += 1;
                        } else if w == CODE_MARK {
                            code_spans += 1;
                        } else {
                            words += 1;
                            has_digits |= w.chars().any(|c| c.is_ascii_digit());
                        }
                    }
                    if words == 0 && quote_words == 0 && code_spans == 0 {
                        continue;
                    }
                    clauses.push(Clause {
                        tokens,
                        words,
                        quote_words,
                        code_spans,
                        list_item: list_item && i == 0,
                        has_digits,
                    });
                }
            }
        }
        Parsed {
            clauses,
            code_words,
            list_items,
            total_quote_words,
        }
    }
}

/// Removes fenced code blocks (```` ``` ````), returning the text with a line break in their
/// place and the number of words they held. An unclosed fence runs to the end.
pub(super) fn strip_code_blocks(text: &str) -> (String, usize) {
    let mut out = String::with_capacity(text.len());
    let mut code_words = 0;
    for (i, part) in text.split("```").enumerate() {
        if i % 2 == 0 {
            out.push_str(part);
        } else {
            code_words += words(part).count();
            out.push('\n');
        }
    }
    (out, code_words)
}

/// Replaces inline code (`` `x` ``) by a mark; an unpaired backtick is left as it is.
pub(super) fn strip_inline_code(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let parts: Vec<&str> = text.split('`').collect();
    let closed = parts.len() % 2 == 1;
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        if i % 2 == 1 && (closed || !last) {
            out.push(' ');
            out.push_str(CODE_MARK);
            out.push(' ');
        } else {
            if i % 2 == 1 {
                out.push('`');
            }
            out.push_str(part);
        }
    }
    out
}

/// Replaces quoted passages by a mark and returns their word counts in order. Double quotes
/// pair up within a paragraph; a single quote opens a passage only after a space or opening
/// punctuation and before a letter or digit, and closes it only before a non-letter on the
/// same line, so apostrophes (`can't`, `James's`) are left alone.
pub(super) fn strip_quotes(text: &str) -> (String, Vec<usize>) {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut counts = Vec::new();
    // Where the last failed search for a closing `'` stopped: an opener before it fails too
    // (a closer does not depend on its opener), so it is not searched again; this keeps the
    // pass linear on text full of unclosed quotes.
    let mut no_closing_before = 0;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let opens = match c {
            '"' => true,
            '\'' => {
                let before = if i == 0 { ' ' } else { chars[i - 1] };
                let after = chars.get(i + 1).copied().unwrap_or(' ');
                (before.is_whitespace() || matches!(before, '(' | '[' | ':' | '-'))
                    && after.is_alphanumeric()
            }
            _ => false,
        };
        let searched =
            (opens && (c == '"' || i >= no_closing_before)).then(|| find_closing(&chars, i, c));
        if let Some(Err(stop)) = searched
            && c == '\''
        {
            no_closing_before = stop;
        }
        if let Some(Ok(end)) = searched {
            let inner: String = chars[i + 1..end].iter().collect();
            counts.push(words(&inner).count());
            out.push(' ');
            out.push_str(QUOTE_MARK);
            out.push(' ');
            // Keep a sentence end that the quote swallowed ("… 'Das kann ich nicht.'").
            if matches!(chars.get(end.wrapping_sub(1)), Some('.' | '!' | '?')) {
                out.push('.');
            }
            i = end + 1;
            continue;
        }
        out.push(c);
        i += 1;
    }
    (out, counts)
}

/// The closing quote of the one opened at `open`, or where the search stopped without one.
pub(super) fn find_closing(chars: &[char], open: usize, quote: char) -> Result<usize, usize> {
    let mut j = open + 1;
    while j < chars.len() {
        let c = chars[j];
        if quote == '\'' && c == '\n' {
            return Err(j);
        }
        if quote == '"' && c == '\n' && chars.get(j + 1) == Some(&'\n') {
            return Err(j);
        }
        if c == quote {
            if quote == '"' {
                return Ok(j);
            }
            let before = chars[j - 1];
            let after = chars.get(j + 1).copied().unwrap_or(' ');
            if !before.is_whitespace() && !after.is_alphanumeric() {
                return Ok(j);
            }
        }
        j += 1;
    }
    Err(j)
}

/// Whether a line starts like a list item: `1.`, `2)`, `-`, `*` or `•` followed by a space.
pub(super) fn is_list_marker(line: &str) -> bool {
    let digits = line.chars().take_while(|c| c.is_ascii_digit()).count();
    let rest = &line[digits..];
    if digits > 0 {
        return rest.starts_with(". ") || rest.starts_with(") ");
    }
    rest.starts_with("- ") || rest.starts_with("* ") || rest.starts_with("\u{2022}")
}

/// Cuts a line into sentences at `.`, `!` or `?` followed by a space or the end, and at a
/// list number inside running text ("… order. 1. Red clamp …").
pub(super) fn split_sentences(line: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let bytes = line.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if matches!(b, b'.' | b'!' | b'?')
            && bytes.get(i + 1).is_none_or(|n| n.is_ascii_whitespace())
        {
            // `i + 1` is a char boundary: the byte at `i` is ASCII.
            if let Some(s) = line.get(start..i + 1) {
                out.push(s);
            }
            start = i + 1;
        }
    }
    if let Some(s) = line.get(start..)
        && !s.trim().is_empty()
    {
        out.push(s);
    }
    out
}

/// Cuts a sentence into clauses at `;`, `:`, ` - ` and before "but", "though", "however" and
/// ", so".
pub(super) fn split_clauses(sentence: &str) -> Vec<&str> {
    const BREAKS: &[&str] = &[
        "; ",
        ": ",
        " - ",
        ", but ",
        " but ",
        ", though",
        ", however",
        "however, ",
        ", so ",
    ];
    let mut pieces = vec![sentence];
    for brk in BREAKS {
        let mut next = Vec::with_capacity(pieces.len());
        for piece in pieces {
            let mut rest = piece;
            let mut from = 0;
            while let Some(found) = rest.get(from..).and_then(|r| r.find(brk)) {
                let at = from + found;
                // "I can't help but smile" is one clause.
                if brk.contains("but") && rest[..at].ends_with("help") {
                    from = at + brk.len();
                    continue;
                }
                next.push(&rest[..at]);
                rest = &rest[at + brk.len()..];
                from = 0;
            }
            next.push(rest);
        }
        pieces = next;
    }
    pieces.retain(|p| !p.trim().is_empty());
    pieces
}
