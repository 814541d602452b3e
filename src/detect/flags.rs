//! The four flags of Art. 7 — 谣言, 歪曲, 误解, 疑虑 — raised by cue lists that admins edit
//! in `keywords/flags/<kind>.txt`, each flag carrying the cues that fired. Pure.

use crate::matcher::{Fields, KeywordList, Matcher, MatcherError};
use crate::model::{Flag, FlagKind};

/// Cue lists compiled into one automaton; list names are flag kinds.
#[derive(Debug, Clone)]
pub struct Flagger {
    matcher: Matcher,
}

impl Flagger {
    pub fn new(cue_lists: &[KeywordList], fold_traditional: bool) -> Result<Self, MatcherError> {
        Ok(Self { matcher: Matcher::with_folding(cue_lists, fold_traditional)? })
    }

    /// The flags a document raises, in kind order, each with its distinct cues.
    pub fn flags(&self, fields: &Fields<'_>) -> Vec<Flag> {
        let mut flags: Vec<Flag> = Vec::new();
        for hit in self.matcher.find(fields) {
            let Some(kind) = FlagKind::from_name(&hit.list) else { continue };
            match flags.iter_mut().find(|f| f.kind == kind) {
                Some(flag) if !flag.reasons.contains(&hit.term) => flag.reasons.push(hit.term),
                Some(_) => {}
                None => flags.push(Flag { kind, reasons: vec![hit.term] }),
            }
        }
        flags.sort_by_key(|f| f.kind);
        flags
    }
}

/// Adds `reason` to the flag of `kind`, raising the flag when it is not there yet.
pub fn add_reason(flags: &mut Vec<Flag>, kind: FlagKind, reason: String) {
    match flags.iter_mut().find(|f| f.kind == kind) {
        Some(flag) => flag.reasons.push(reason),
        None => {
            flags.push(Flag { kind, reasons: vec![reason] });
            flags.sort_by_key(|f| f.kind);
        }
    }
}

/// "疑似谣言（线索：网传、转发扩散）；疑虑（线索：为什么）"
pub fn describe_zh(flags: &[Flag]) -> String {
    flags
        .iter()
        .map(|f| format!("{}（线索：{}）", f.kind.label_zh(), f.reasons.join("、")))
        .collect::<Vec<_>>()
        .join("；")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(name: &str, terms: &[&str]) -> KeywordList {
        KeywordList::from_terms(name, terms)
    }

    fn flagger() -> Flagger {
        Flagger::new(
            &[
                list("rumour", &["网传", "转发扩散"]),
                list("misunderstanding", &["以后都不"]),
                list("doubt", &["为什么", "到底"]),
                list("distortion", &["断章取义"]),
            ],
            true,
        )
        .expect("builds")
    }

    /// (title, text, expected flags with their cues)
    type Case<'a> = (&'a str, &'a str, &'a [(FlagKind, &'a [&'a str])]);

    #[test]
    fn each_flag_with_its_cues() {
        let cases: &[Case<'_>] = &[
            ("网传烈士陵园要拆迁", "请转发扩散！网传已久", &[(FlagKind::Rumour, &["网传", "转发扩散"])]),
            (
                "抚恤金以后都不发了？",
                "到底为什么",
                &[(FlagKind::Misunderstanding, &["以后都不"]), (FlagKind::Doubt, &["到底", "为什么"])],
            ),
            ("某报道断章取义", "", &[(FlagKind::Distortion, &["断章取义"])]),
            ("市退役军人事务局召开会议", "会议部署冬季工作", &[]),
        ];
        let f = flagger();
        for (title, text, want) in cases {
            let got: Vec<(FlagKind, Vec<String>)> =
                f.flags(&Fields::body(title, text)).into_iter().map(|f| (f.kind, f.reasons)).collect();
            let want: Vec<(FlagKind, Vec<String>)> =
                want.iter().map(|(k, r)| (*k, r.iter().map(|s| s.to_string()).collect())).collect();
            assert_eq!(got, want, "{title} / {text}");
        }
    }

    #[test]
    fn a_model_reason_raises_or_extends_a_flag() {
        let mut flags = flagger().flags(&Fields::body("", "为什么"));
        add_reason(&mut flags, FlagKind::Rumour, "文本分类模型 0.91 ≥ 0.40".into());
        assert_eq!(describe_zh(&flags), "疑似谣言（线索：文本分类模型 0.91 ≥ 0.40）；疑虑（线索：为什么）");
        add_reason(&mut flags, FlagKind::Rumour, "网传".into());
        assert_eq!(flags[0].reasons.len(), 2);
    }

    #[test]
    fn description_for_staff() {
        let flags = flagger().flags(&Fields::body("网传抚恤金停发", "为什么"));
        assert_eq!(describe_zh(&flags), "疑似谣言（线索：网传）；疑虑（线索：为什么）");
    }
}
