//! The text the automaton searches: a normalised field with the separators people slip
//! inside Chinese words (拆-迁, 拆 迁, 拆*迁) removed, optionally traditional characters
//! folded to simplified (拆遷 → 拆迁), and ASCII letters lower-cased, with the way back to
//! the field's own byte offsets. Terms go through the same view so that both sides agree.

use std::borrow::Cow;
use std::sync::OnceLock;

/// Symbols people insert inside a word (ASCII and the full-width forms that normalisation
/// keeps); sentence punctuation such as ，。 is not among them.
fn is_separator(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '-' | '*'
                | '_'
                | '.'
                | '·'
                | '/'
                | '|'
                | '~'
                | '#'
                | '+'
                | '='
                | '^'
                | '`'
                | '\''
                | '"'
                | '＊'
                | '－'
                | '．'
                | '／'
                | '＿'
                | '｜'
                | '～'
                | '＃'
                | '＋'
                | '＝'
                | '・'
        )
}

fn is_cjk(c: char) -> bool {
    matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}' | '\u{F900}'..='\u{FAFF}' | '\u{20000}'..='\u{2FA1F}')
}

/// What a field needs before matching, in one pass without allocating: whether some
/// separator run sits between two CJK characters, and whether some character folds.
fn scan(s: &str, folding: Option<&Folding>) -> (bool, bool) {
    let (mut split, mut folds) = (false, false);
    let (mut after_cjk, mut in_run) = (false, false);
    for c in s.chars() {
        folds |= folding.is_some_and(|f| f.folds(c));
        if is_cjk(c) {
            split |= in_run;
            in_run = false;
            after_cjk = true;
        } else if is_separator(c) {
            in_run |= after_cjk;
            after_cjk = false;
        } else {
            in_run = false;
            after_cjk = false;
        }
    }
    (split, folds)
}

/// The traditional → simplified table: OpenCC's one-to-one character mappings (through
/// the `hanconv` crate) over the BMP ideograph blocks, kept only where both characters
/// have the same UTF-8 length so that byte offsets stay valid.
pub struct Folding {
    /// Indexed by `c - FOLD_BASE`; 0 when the character folds to itself.
    table: Vec<u32>,
    /// One bit per entry of `table`: set when the character folds (6 KB, for the scan).
    bits: Vec<u64>,
}

impl std::fmt::Debug for Folding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Folding").field("mappings", &self.table.iter().filter(|&&t| t != 0).count()).finish()
    }
}

const FOLD_BASE: u32 = 0x3400;
const FOLD_END: u32 = 0xFB00;

impl Folding {
    /// The shared table, built on first use (about 4,000 mappings).
    pub fn get() -> &'static Folding {
        static TABLE: OnceLock<Folding> = OnceLock::new();
        TABLE.get_or_init(|| {
            let mut table = vec![0u32; (FOLD_END - FOLD_BASE) as usize];
            for (from, to) in hanconv::RawDictionary::TSCharacters.iter() {
                let (mut f, mut t) = (from.chars(), to.chars());
                let (Some(fc), None, Some(tc), None) = (f.next(), f.next(), t.next(), t.next()) else { continue };
                if fc != tc && fc.len_utf8() == tc.len_utf8() && (FOLD_BASE..FOLD_END).contains(&(fc as u32)) {
                    table[(fc as u32 - FOLD_BASE) as usize] = tc as u32;
                }
            }
            let mut bits = vec![0u64; table.len().div_ceil(64)];
            for (i, _) in table.iter().enumerate().filter(|&(_, &t)| t != 0) {
                bits[i / 64] |= 1 << (i % 64);
            }
            Folding { table, bits }
        })
    }

    fn fold(&self, c: char) -> Option<char> {
        let i = (c as u32).checked_sub(FOLD_BASE)? as usize;
        self.table.get(i).copied().filter(|&t| t != 0).and_then(char::from_u32)
    }

    /// Whether `c` folds to another character.
    fn folds(&self, c: char) -> bool {
        let Some(i) = (c as u32).checked_sub(FOLD_BASE) else { return false };
        self.bits.get(i as usize / 64).is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    /// The folded text, borrowed when nothing folds. Same length, same offsets.
    pub fn apply<'a>(&self, s: Cow<'a, str>) -> Cow<'a, str> {
        let Some(at) = s.char_indices().find(|&(_, c)| self.folds(c)).map(|(at, _)| at) else { return s };
        let mut out = String::with_capacity(s.len());
        out.push_str(&s[..at]);
        out.extend(s[at..].chars().map(|c| self.fold(c).unwrap_or(c)));
        Cow::Owned(out)
    }
}

/// A field as the automaton sees it, and the way back to the field's byte offsets.
/// Borrows the field when there is nothing to change.
pub struct View<'a> {
    text: Cow<'a, str>,
    /// For each byte of `text`, its offset in the original; empty when no byte moved.
    map: Vec<usize>,
}

impl<'a> View<'a> {
    pub fn of(original: &'a str, folding: Option<&Folding>) -> Self {
        let (split, folds) = scan(original, folding);
        let mut view = if split { Self::without_separators(original) } else { Self::borrowed(original) };
        if let (true, Some(f)) = (folds, folding) {
            view.text = f.apply(view.text);
        }
        // Latin letters match whatever their case; lower-casing ASCII keeps every offset.
        if view.text.bytes().any(|b| b.is_ascii_uppercase()) {
            view.text.to_mut().make_ascii_lowercase();
        }
        view
    }

    fn borrowed(original: &'a str) -> Self {
        Self { text: original.into(), map: Vec::new() }
    }

    fn without_separators(original: &'a str) -> Self {
        let chars: Vec<(usize, char)> = original.char_indices().collect();
        let removable = |i: usize| {
            is_separator(chars[i].1)
                && chars[..i].iter().rev().find(|(_, c)| !is_separator(*c)).is_some_and(|(_, c)| is_cjk(*c))
                && chars[i + 1..].iter().find(|(_, c)| !is_separator(*c)).is_some_and(|(_, c)| is_cjk(*c))
        };
        let removed: Vec<bool> = (0..chars.len()).map(removable).collect();
        if !removed.contains(&true) {
            return Self::borrowed(original);
        }
        let mut text = String::with_capacity(original.len());
        let mut map = Vec::with_capacity(original.len());
        for (&(at, c), dropped) in chars.iter().zip(removed) {
            if !dropped {
                text.push(c);
                map.extend(at..at + c.len_utf8());
            }
        }
        Self { text: text.into(), map }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn into_text(self) -> String {
        self.text.into_owned()
    }

    /// The original byte range of the view's `start..end` (`end > start`).
    pub fn original(&self, start: usize, end: usize) -> (usize, usize) {
        if self.map.is_empty() {
            return (start, end);
        }
        (self.map[start], self.map[end - 1] + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traditional_folds_to_simplified_with_the_same_offsets() {
        let f = Folding::get();
        let v = View::of("強制拆遷烈士陵園", Some(f));
        assert_eq!(v.text(), "强制拆迁烈士陵园");
        assert_eq!(v.original(6, 12), (6, 12));
        assert_eq!(View::of("撫卹金", Some(f)).text(), "抚恤金");
        // Without folding, or with nothing to fold, the field is borrowed unchanged.
        assert_eq!(View::of("拆遷", None).text(), "拆遷");
        assert!(matches!(View::of("拆迁", Some(f)).text, Cow::Borrowed(_)));
    }

    #[test]
    fn separators_and_folding_together() {
        let v = View::of("拆-遷後", Some(Folding::get()));
        assert_eq!(v.text(), "拆迁后");
        assert_eq!(v.original(0, 6), (0, 7));
    }
}
