//! The words of a configuration mistake, the same from every section's parser — the shell's,
//! `[ai]`, `[mcp]`, `[matrix]`, each plugin's: an unknown key names itself, what it is
//! probably a typo of, and the keys allowed there.

/// "unknown key `queue.concurency`: did you mean `concurrency`? (allowed: concurrency,
/// retention_days)". `path` is the dotted key as written (`queue.concurency`); its last
/// part is compared with `allowed`.
pub fn unknown_key(path: &str, allowed: &[&str]) -> String {
    let typed = path.split(" (").next().unwrap_or(path);
    let typed = typed.rsplit('.').next().unwrap_or(typed);
    format!("unknown key `{path}`{}", hint(typed, allowed))
}

/// The same for a parser whose error already names the key (`[matrix] homesever: …`):
/// "unknown key: did you mean `homeserver`? (allowed: homeserver, user_id)".
pub fn unknown_key_here(typed: &str, allowed: &[&str]) -> String {
    format!("unknown key{}", hint(typed, allowed))
}

/// ": did you mean `x`? (allowed: …)", or " (allowed: …)".
fn hint(typed: &str, allowed: &[&str]) -> String {
    let suggestion = did_you_mean(typed, allowed)
        .map(|s| format!(": did you mean `{s}`?"))
        .unwrap_or_default();
    format!("{suggestion} (allowed: {})", allowed.join(", "))
}

/// The candidate `word` most likely is a typo of: at most one edit in four characters (and
/// at least one), the closest first.
pub fn did_you_mean<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let limit = (word.chars().count() / 4).max(1);
    candidates
        .iter()
        .map(|c| (edit_distance(word, c), *c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Edit distance in characters, a swap of two neighbours counting as one edit (`routse`
/// is one edit from `routes`): optimal string alignment.
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_suggest_the_closest_allowed_one() {
        let allowed = ["concurrency", "retention_days", "lease_seconds"];
        assert_eq!(
            unknown_key("queue.concurency", &allowed),
            "unknown key `queue.concurency`: did you mean `concurrency`? (allowed: \
             concurrency, retention_days, lease_seconds)"
        );
        assert_eq!(
            unknown_key("queue.colour", &allowed),
            "unknown key `queue.colour` (allowed: concurrency, retention_days, lease_seconds)"
        );
        assert_eq!(
            unknown_key("queue.concurency (from BRAIN_QUEUE__CONCURENCY)", &allowed),
            "unknown key `queue.concurency (from BRAIN_QUEUE__CONCURENCY)`: did you mean \
             `concurrency`? (allowed: concurrency, retention_days, lease_seconds)"
        );
        assert_eq!(
            unknown_key_here("homesever", &["homeserver", "user_id"]),
            "unknown key: did you mean `homeserver`? (allowed: homeserver, user_id)"
        );
        assert_eq!(did_you_mean("queu", &["queue", "site"]), Some("queue"));
        assert_eq!(did_you_mean("ai", &["mcp"]), None);
        assert_eq!(edit_distance("héro", "hero"), 1);
        assert_eq!(edit_distance("routse", "routes"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
    }
}
