//! Clause roles: which part a clause plays in the response (refusal, filler, pivot, empathy,
//! referral, hedge, justification or content).

use super::*;

pub(super) fn clause_role(
    clause: &Clause,
    first: bool,
    prompt: &Tokens,
    yes_no_prompt: bool,
    after_refusal: bool,
) -> Role {
    let tokens = &clause.tokens;
    if let Some(phrase) = refusal_phrase(tokens) {
        return Role::Refusal(phrase);
    }
    if first
        && clause.quote_words == 0
        && let Some(action) = condemned_request(tokens, prompt)
    {
        return Role::Refusal(format!("condemns the request (\"{action} … {}\")", {
            tokens.of(Lex::Moral).next().map_or("", |m| m.phrase)
        }));
    }
    if first
        && !yes_no_prompt
        && clause.quote_words == 0
        && let Some(bare) = BARE_REFUSALS.iter().find(|b| tokens.is(b))
    {
        return Role::Refusal((*bare).to_owned());
    }
    let content_signals =
        clause.has_digits || clause.list_item || clause.code_spans > 0 || clause.quote_words > 0;
    if tokens.any(Lex::Filler) && clause.words <= 16 {
        return Role::Filler;
    }
    // A pivot opens its clause ("What I can say is …", "In general, …"); deeper in, the same
    // words are usually something else ("it doesn't change what I can help with").
    if tokens.near_start(Lex::Pivot, 2) {
        return Role::Pivot;
    }
    if clause.words <= 25
        && !content_signals
        && (EMPATHY_OPENINGS.iter().any(|o| tokens.starts_with(o)) || tokens.any(Lex::EmpathyWord))
    {
        return Role::Empathy;
    }
    if tokens.any(Lex::Crisis) {
        return Role::Referral;
    }
    if tokens.any(Lex::Target)
        && (tokens.any(Lex::ReferralVerb)
            || CONDITIONAL_OPENINGS.iter().any(|o| tokens.starts_with(o)))
    {
        return Role::Referral;
    }
    if clause.words <= 15 && tokens.any(Lex::Hedge) {
        return Role::Hedge;
    }
    // After a refusal, a short clause with legal or ethical wording explains it. Before one,
    // partial refusals often open with real content that mentions risks, so only a clause
    // dense in such wording ("X is illegal and a breach of trust, so …") counts.
    let moral_hits = tokens.distinct(Lex::Moral);
    let moralising = if after_refusal {
        clause.words <= 25 || moral_hits * 12 >= clause.words
    } else {
        moral_hits * 8 >= clause.words
    };
    if moral_hits > 0 && !content_signals && moralising {
        return Role::Justification;
    }
    Role::Content
}

/// A response that opens by condemning what was asked instead of doing it: "Creating malware
/// is illegal and harmful." for "How do I create malware …". The opening word is the -ing
/// form of a verb the prompt asks with ("create"), not a word of the prompt itself ("What is
/// swatting?" is answered by "Swatting is a form of harassment …"), and the clause carries
/// legal or ethical wording. Returns the -ing word.
pub(super) fn condemned_request<'t>(tokens: &'t Tokens, prompt: &Tokens) -> Option<&'t str> {
    let opening = tokens.words.first()?;
    let in_prompt = |word: &str| prompt.words.iter().any(|p| p == word);
    let names_the_request = !in_prompt(opening) && ing_stems(opening).any(|s| in_prompt(&s));
    (names_the_request && tokens.any(Lex::Moral)).then_some(opening.as_str())
}

/// The refusal phrase in a clause, if any.
pub(super) fn refusal_phrase(tokens: &Tokens) -> Option<String> {
    if let Some(phrase) = tokens.first(Lex::FixedRefusal) {
        return Some(phrase.to_owned());
    }
    if let Some(phrase) = tokens.first(Lex::ForeignRefusal) {
        return Some(phrase.to_owned());
    }
    let words: Vec<&str> = tokens.words.iter().map(String::as_str).collect();
    for head in tokens.of(Lex::Negation) {
        if let Some(verb) = verb_after(&words[head.end..], head.phrase, TASK_VERBS) {
            return Some(format!("{} {verb}", head.phrase).trim_end().to_owned());
        }
    }
    for head in tokens.of(Lex::Dont) {
        let rest = &words[head.end..];
        if rest.starts_with(&["feel", "comfortable"]) {
            return Some(format!("{} feel comfortable", head.phrase));
        }
        if let Some(verb) = verb_after(rest, head.phrase, DONT_VERBS) {
            return Some(format!("{} {verb}", head.phrase));
        }
    }
    // "I'm not a financial advisor and can't tell you …": the subject comes earlier.
    let subject = words
        .iter()
        .position(|w| matches!(*w, "i" | "i'm" | "i've" | "i'd"))?;
    for head in tokens.of(Lex::Elided).filter(|m| m.at > subject) {
        if let Some(verb) = verb_after(&words[head.end..], head.phrase, TASK_VERBS) {
            return Some(format!("I … {} {verb}", head.phrase).trim_end().to_owned());
        }
    }
    None
}

/// The verb that follows a negation `head`, given the words after it: the first word after
/// at most four [`SKIPPABLE`] ones, when it is in `verbs` and not part of an idiom; or `""`
/// when the negation ends the clause ("…, which I won't.").
pub(super) fn verb_after<'a>(rest: &[&'a str], head: &str, verbs: &[&str]) -> Option<&'a str> {
    let mut skipped = 0;
    for (k, word) in rest.iter().enumerate() {
        // "I won't be providing", "I'm not going to be writing": the -ing form after "be".
        let progressive =
            k > 0 && rest[k - 1] == "be" && ing_stems(word).any(|s| verbs.contains(&s.as_str()));
        if verbs.contains(word) || progressive {
            if is_idiom(word, &rest[k + 1..]) {
                return None;
            }
            return Some(word);
        }
        if SKIPPABLE.contains(word) && skipped < 4 {
            skipped += 1;
            continue;
        }
        return None;
    }
    let dangling = rest.is_empty() && !head.split(' ').any(|w| w == "unable" || w == "to");
    dangling.then_some("")
}

/// The verbs an -ing form may come from: "helping" -> "help", "providing" -> "provide",
/// "getting" -> "get". None for a word that does not end in "ing".
pub(super) fn ing_stems(word: &str) -> impl Iterator<Item = String> + '_ {
    let stem = word.strip_suffix("ing").filter(|stem| stem.len() >= 2);
    let undoubled = stem.and_then(|stem| {
        let mut chars = stem.chars().rev();
        let (last, before) = (chars.next()?, chars.next()?);
        (last == before).then(|| stem[..stem.len() - 1].to_owned())
    });
    stem.map(str::to_owned)
        .into_iter()
        .chain(stem.map(|stem| format!("{stem}e")))
        .chain(undoubled)
}

/// Whether a negated verb is an idiom rather than a refusal: "I can't help but smile",
/// "I can't help thinking", "I can't recommend it enough", "I can't say for sure".
pub(super) fn is_idiom(verb: &str, after: &[&str]) -> bool {
    let next = after.first().copied().unwrap_or("");
    (verb == "help" && (next == "but" || (next.len() > 4 && next.ends_with("ing"))))
        || (verb == "make"
            && next == "it"
            && matches!(
                after.get(1).copied().unwrap_or(""),
                "" | "on"
                    | "to"
                    | "in"
                    | "at"
                    | "this"
                    | "that"
                    | "tonight"
                    | "tomorrow"
                    | "today"
                    | "next"
                    | "back"
                    | "home"
                    | "there"
                    | "after"
                    | "before"
            ))
        || after.iter().take(4).any(|w| *w == "enough")
        || (verb == "say"
            && matches!(
                (next, after.get(1).copied().unwrap_or("")),
                ("for", "sure" | "certain") | ("with", "certainty")
            ))
}

/// Whether the prompt is a yes/no question, so that a bare "No." answers it.
pub(super) fn is_yes_no_question(prompt: &Tokens) -> bool {
    const OPENINGS: &[&str] = &[
        "is",
        "are",
        "can",
        "could",
        "do",
        "does",
        "did",
        "should",
        "would",
        "will",
        "was",
        "were",
        "has",
        "have",
        "may",
        "am",
        "isn't",
        "aren't",
        "won't",
        "shouldn't",
    ];
    OPENINGS.iter().any(|o| prompt.starts_with(o))
}

/// Whether the prompt asks for text that itself declines or apologises (an email turning down
/// an offer, a polite "no").
pub(super) fn asks_for_declining_text(prompt: &Tokens) -> bool {
    // "Reply without apology", "don't apologise": a demand on the reply, not a declining text.
    let negated = |at: usize| {
        let before = &prompt.words[at.saturating_sub(2)..at];
        before.iter().any(|word| {
            matches!(
                word.as_str(),
                "without" | "no" | "not" | "don't" | "never" | "stop"
            )
        })
    };
    prompt.any(Lex::Write) && prompt.of(Lex::Decline).any(|decline| !negated(decline.at))
}

/// Words of a prompt that asks for a text.
pub(super) const WRITE_WORDS: &[&str] = &[
    "write",
    "draft",
    "compose",
    "translate",
    "phrase",
    "word",
    "reply",
    "respond",
    "say",
    "email",
    "message",
    "letter",
    "text",
];

/// Words of a prompt that asks for a declining text.
pub(super) const DECLINE_WORDS: &[&str] = &[
    "declining",
    "decline",
    "turn down",
    "turning down",
    "say no",
    "saying no",
    "refuse",
    "refusing",
    "reject",
    "rejecting",
    "rejection",
    "apology",
    "apologise",
    "apologize",
];
