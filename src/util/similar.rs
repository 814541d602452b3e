//! Did-you-mean: the closest of some valid names to a misspelt one, for messages that
//! refuse a typo (config keys and ids, rule fields, command-line ids). Pure.

/// The closest candidate to a misspelt key, if it is close enough to suggest.
pub fn suggest<'a>(wrong: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (edit_distance(wrong, c), *c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_near_keys_only() {
        let keys = ["id", "name", "kind", "url", "schedule", "enabled"];
        assert_eq!(suggest("shedule", &keys), Some("schedule"));
        assert_eq!(suggest("enable", &keys), Some("enabled"));
        assert_eq!(suggest("password", &keys), None);
    }
}
