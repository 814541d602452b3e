//! robots.txt (RFC 9309): which paths a site asks crawlers not to fetch. The group for
//! our product token (`yuqing`) applies, else the `*` group; the longest matching rule
//! wins, and on a tie `Allow` wins. `*` and `$` work as in the RFC. Pure.

/// One `User-agent` group: its agents and its (allow?, pattern) rules.
type Group = (Vec<String>, Vec<(bool, String)>);

/// The rules of the group that applies to us.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Robots {
    /// (allow?, pattern)
    rules: Vec<(bool, String)>,
}

impl Robots {
    /// Parses a robots.txt body for the user-agent product token `agent`.
    pub fn parse(text: &str, agent: &str) -> Self {
        let agent = agent.to_ascii_lowercase();
        let mut groups: Vec<Group> = Vec::new();
        let mut in_agents = false;
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or_default().trim();
            let Some((key, value)) = line.split_once(':') else { continue };
            let (key, value) = (key.trim().to_ascii_lowercase(), value.trim());
            match key.as_str() {
                "user-agent" => {
                    if !in_agents {
                        groups.push((Vec::new(), Vec::new()));
                    }
                    if let Some(group) = groups.last_mut() {
                        group.0.push(value.to_ascii_lowercase());
                    }
                    in_agents = true;
                }
                "allow" | "disallow" => {
                    in_agents = false;
                    if let Some(group) = groups.last_mut()
                        && !value.is_empty()
                    {
                        group.1.push((key == "allow", value.to_string()));
                    }
                }
                _ => {}
            }
        }
        let ours = groups.iter().find(|(agents, _)| agents.iter().any(|a| a != "*" && agent.contains(a.as_str())));
        let any = groups.iter().find(|(agents, _)| agents.iter().any(|a| a == "*"));
        Robots { rules: ours.or(any).map(|(_, rules)| rules.clone()).unwrap_or_default() }
    }

    /// Whether `path` (with its query) may be fetched.
    pub fn allows(&self, path: &str) -> bool {
        let best = self
            .rules
            .iter()
            .filter(|(_, pattern)| matches(pattern, path))
            .max_by_key(|(allow, pattern)| (pattern.len(), *allow));
        best.is_none_or(|(allow, _)| *allow)
    }
}

/// RFC 9309 path matching: prefix match, `*` any run of characters, `$` end of path.
fn matches(pattern: &str, path: &str) -> bool {
    let (pattern, anchored) = match pattern.strip_suffix('$') {
        Some(p) => (p, true),
        None => (pattern, false),
    };
    let parts: Vec<&str> = pattern.split('*').collect();
    let mut rest = path;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            let Some(after) = rest.strip_prefix(part) else { return false };
            rest = after;
        } else if i == parts.len() - 1 && anchored {
            return rest.ends_with(part);
        } else {
            let Some(at) = rest.find(part) else { return false };
            rest = &rest[at + part.len()..];
        }
    }
    !anchored || rest.is_empty() || (parts.len() > 1 && parts.last().is_some_and(|p| p.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TXT: &str = "# comment\nUser-agent: *\nDisallow: /private/\nAllow: /private/public.xml\nDisallow: /*.php$\n\nUser-agent: BadBot\nUser-agent: yuqing\nDisallow: /no-monitors/\n";

    #[test]
    fn our_group_wins_over_the_star_group() {
        let ours = Robots::parse(TXT, "yuqing");
        assert!(!ours.allows("/no-monitors/feed.xml"));
        assert!(ours.allows("/private/feed.xml"), "the * group does not apply when ours exists");
        let others = Robots::parse(TXT, "somebot");
        assert!(!others.allows("/private/feed.xml"));
        assert!(others.allows("/private/public.xml"), "longest match: the Allow");
        assert!(!others.allows("/index.php"));
        assert!(others.allows("/index.php?x=1"), "$ anchors the end");
        assert!(others.allows("/news/rss.xml"));
    }

    #[test]
    fn empty_or_missing_rules_allow_everything() {
        assert!(Robots::parse("", "yuqing").allows("/anything"));
        assert!(Robots::parse("User-agent: *\nDisallow:\n", "yuqing").allows("/anything"));
        assert!(!Robots::parse("User-agent: *\nDisallow: /\n", "yuqing").allows("/feed.xml"));
    }

    #[test]
    fn wildcards() {
        assert!(matches("/a*/rss", "/abc/rss.xml"));
        assert!(!matches("/a*/rss", "/b/rss"));
        assert!(matches("/*.xml$", "/x/y.xml"));
        assert!(!matches("/*.xml$", "/x/y.xml.bak"));
    }
}
