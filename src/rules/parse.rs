//! The rule line parser: text → [`Rule`], or a [`RuleError`] naming the column and what
//! is wrong. Grammar (loosest first):
//!
//! ```text
//! line    := or
//! or      := and ("OR" and)*
//! and     := group ("AND" group)*
//! group   := item+                  plain items: any one; +item: required; !item: veto
//! item    := "+" unary | "!" unary | unary
//! unary   := "NOT" unary | near
//! near    := primary ("NEAR/" N primary)?
//! primary := "(" or ")" | SCOPE ":" primary | WORD | "PHRASE" | /REGEX/ | {ALIAS}
//! ```
//!
//! `NOT x` inside a group is required-absent (`a NOT b` = a and not b); `!x` vetoes the
//! whole line wherever it is written ("exclusion always wins").

use super::{Expr, Leaf, Pattern, Rule, Scope};
use crate::extract::normalize::normalize_text;

/// Largest distance `NEAR/N` accepts, in characters.
pub const MAX_NEAR: usize = 1000;

/// What is wrong with a line, and where (1-based character column).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("第 {column} 列：{message}")]
pub struct RuleError {
    pub column: usize,
    pub message: String,
    pub hint: String,
}

fn error<T>(column: usize, message: impl Into<String>, hint: impl Into<String>) -> Result<T, RuleError> {
    Err(RuleError { column, message: message.into(), hint: hint.into() })
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Open,
    Close,
    Plus,
    Bang,
    And,
    Or,
    Not,
    Near(usize),
    Scope(Scope),
    Word(String),
    Phrase(String),
    Regex(String),
    Alias(String),
}

/// Characters that end a word.
fn ends_word(c: char) -> bool {
    c.is_whitespace() || matches!(c, '(' | ')' | '"' | '“' | '”' | '{' | '}')
}

fn tokenize(line: &str) -> Result<Vec<(Tok, usize)>, RuleError> {
    let chars: Vec<char> = line.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let col = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let single = match c {
            '(' => Some(Tok::Open),
            ')' => Some(Tok::Close),
            '+' | '＋' => Some(Tok::Plus),
            '!' | '！' => Some(Tok::Bang),
            _ => None,
        };
        if let Some(tok) = single {
            toks.push((tok, col));
            i += 1;
            continue;
        }
        let delimited = match c {
            '"' => Some(('"', "短语")),
            '“' => Some(('”', "短语")),
            '/' => Some(('/', "正则表达式")),
            '{' => Some(('}', "别名")),
            _ => None,
        };
        if let Some((close, what)) = delimited {
            let mut j = i + 1;
            let mut body = String::new();
            loop {
                match chars.get(j) {
                    None => {
                        return error(col, format!("{what}没有结束的 {close}"), format!("在{what}末尾补上 {close}"));
                    }
                    Some('\\') if c == '/' && chars.get(j + 1) == Some(&'/') => {
                        body.push('/');
                        j += 2;
                    }
                    Some(&ch) if ch == close || (c == '"' && ch == '”') => break,
                    Some(&ch) => {
                        body.push(ch);
                        j += 1;
                    }
                }
            }
            if body.trim().is_empty() {
                return error(col, format!("{what}是空的"), format!("在 {c}{close} 之间写上内容，或删除它"));
            }
            toks.push((
                match c {
                    '/' => Tok::Regex(body),
                    '{' => Tok::Alias(body.trim().to_string()),
                    _ => Tok::Phrase(body),
                },
                col,
            ));
            i = j + 1;
            continue;
        }
        let start = i;
        while i < chars.len() && !ends_word(chars[i]) {
            if matches!(chars[i], ':' | '：') {
                let name: String = chars[start..i].iter().collect();
                if let Some(scope) = Scope::parse(&name) {
                    toks.push((Tok::Scope(scope), col));
                    i += 1;
                    break;
                }
            }
            i += 1;
        }
        if matches!(toks.last(), Some((Tok::Scope(_), c)) if *c == col) {
            continue;
        }
        let word: String = chars[start..i].iter().collect();
        if let Some(e) = unknown_field(&word, col) {
            return Err(e);
        }
        let tok = match word.as_str() {
            "AND" => Tok::And,
            "OR" => Tok::Or,
            "NOT" => Tok::Not,
            w if w.starts_with("NEAR/") => match w["NEAR/".len()..].parse::<usize>() {
                Ok(n) if (1..=MAX_NEAR).contains(&n) => Tok::Near(n),
                _ => {
                    return error(
                        col,
                        format!("\"{w}\" 的距离不是 1 到 {MAX_NEAR} 之间的整数"),
                        "写成“词 NEAR/10 词”，表示两个词相距不超过 10 个字",
                    );
                }
            },
            _ => Tok::Word(word),
        };
        toks.push((tok, col));
    }
    Ok(toks)
}

/// The field names a rule may use before `:`, English then Chinese.
const FIELDS: [&str; 4] = ["title", "text", "author", "source"];
const FIELDS_ZH: [&str; 5] = ["标题", "正文", "作者", "来源", "信源"];

/// A word that looks like a misspelt field prefix (`titel:停发`, `Title:停发`, `标提:停发`):
/// ASCII letters before the first colon, or two Chinese characters one away from a
/// Chinese field name. A URL (`https://…`) and words such as `比例:50%` stay words; a word
/// with a colon meant literally is written as a phrase (`"QQ:12345"`).
fn unknown_field(word: &str, col: usize) -> Option<RuleError> {
    let (prefix, rest) = word.split_once([':', '：'])?;
    let one_off =
        |f: &&str| f.chars().count() == 2 && f.chars().zip(prefix.chars()).filter(|(a, b)| a != b).count() == 1;
    let guess = if prefix.len() >= 2 && prefix.chars().all(|c| c.is_ascii_alphabetic()) && !rest.starts_with("//") {
        Some(crate::util::similar::suggest(&prefix.to_ascii_lowercase(), &FIELDS))
    } else if prefix.chars().count() == 2 {
        FIELDS_ZH.iter().find(|f| one_off(f)).map(|f| Some(*f))
    } else {
        None
    }?;
    let guess = guess.map(|g| format!("是不是 {g}:？")).unwrap_or_default();
    Some(RuleError {
        column: col,
        message: format!("未知的字段 \"{prefix}:\""),
        hint: format!(
            "{guess}字段只能是 title: text: author: source:（或 标题: 正文: 作者: 来源:）；要匹配含冒号的文字本身，请加引号：\"{word}\""
        ),
    })
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    pos: usize,
    /// Column just past the end of the line, for "expected … at end" messages.
    end: usize,
    vetoes: Vec<Expr>,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(t, _)| t)
    }

    fn column(&self) -> usize {
        self.toks.get(self.pos).map_or(self.end, |(_, c)| *c)
    }

    fn next(&mut self) -> Option<(Tok, usize)> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    /// `None`: the expression held vetoes only.
    fn or(&mut self, scope: Scope) -> Result<Option<Expr>, RuleError> {
        let first_col = self.column();
        let mut branches = vec![self.and(scope)?];
        while self.peek() == Some(&Tok::Or) {
            self.pos += 1;
            branches.push(self.and(scope)?);
        }
        if branches.len() == 1 {
            return Ok(branches.pop().flatten());
        }
        let mut any = Vec::new();
        for b in branches {
            match b {
                Some(e) => any.push(e),
                None => {
                    return error(
                        first_col,
                        "OR 的一侧只有排除词（!）",
                        "OR 两侧都要有要命中的词；排除词对整行生效，写在哪里都一样",
                    );
                }
            }
        }
        Ok(Some(Expr::Any(any)))
    }

    fn and(&mut self, scope: Scope) -> Result<Option<Expr>, RuleError> {
        let mut parts: Vec<Expr> = self.group(scope)?.into_iter().collect();
        while self.peek() == Some(&Tok::And) {
            self.pos += 1;
            parts.extend(self.group(scope)?);
        }
        Ok(match parts.len() {
            0 => None,
            1 => parts.pop(),
            _ => Some(Expr::All(parts)),
        })
    }

    fn group(&mut self, scope: Scope) -> Result<Option<Expr>, RuleError> {
        let (mut should, mut must) = (Vec::new(), Vec::new());
        let start = self.column();
        let mut had_veto = false;
        loop {
            match self.peek() {
                None | Some(Tok::Or | Tok::And | Tok::Close) => break,
                Some(prefix @ (Tok::Plus | Tok::Bang)) => {
                    let required = *prefix == Tok::Plus;
                    let col = self.column();
                    self.pos += 1;
                    if matches!(self.peek(), None | Some(Tok::Or | Tok::And | Tok::Close | Tok::Plus | Tok::Bang)) {
                        return error(col, "+ 或 ! 后面缺少词", "+ 与 ! 要紧贴在词前，例如：+陵园 !演习");
                    }
                    let item = self.unary(scope)?;
                    if required {
                        must.push(item);
                    } else {
                        had_veto = true;
                        self.vetoes.push(item);
                    }
                }
                Some(Tok::Not) => must.push(self.unary(scope)?),
                Some(_) => should.push(self.unary(scope)?),
            }
        }
        if should.is_empty() && must.is_empty() && !had_veto {
            let what = match self.peek() {
                None => "这里缺少要命中的词".to_string(),
                Some(_) => format!("这里缺少要命中的词，却遇到了 {}", self.describe_current()),
            };
            return error(start, what, "AND / OR 两侧和括号里都要写词，例如：(拆迁 OR 搬迁) AND 陵园");
        }
        match should.len() {
            0 => {}
            1 => must.insert(0, should.remove(0)),
            _ => must.insert(0, Expr::Any(should)),
        }
        Ok(match must.len() {
            0 => None,
            1 => must.pop(),
            _ => Some(Expr::All(must)),
        })
    }

    fn describe_current(&self) -> String {
        match self.peek() {
            Some(Tok::Close) => "右括号 )".into(),
            Some(Tok::And) => "AND".into(),
            Some(Tok::Or) => "OR".into(),
            _ => "行尾".into(),
        }
    }

    fn unary(&mut self, scope: Scope) -> Result<Expr, RuleError> {
        if self.peek() == Some(&Tok::Not) {
            self.pos += 1;
            return Ok(Expr::Not(Box::new(self.unary(scope)?)));
        }
        let col = self.column();
        let left = self.primary(scope)?;
        let Some(Tok::Near(n)) = self.peek().cloned() else { return Ok(left) };
        self.pos += 1;
        let right_col = self.column();
        let right = self.primary(scope)?;
        match (left, right) {
            (Expr::Leaf(a), Expr::Leaf(b)) => Ok(Expr::Near(a, b, n)),
            (Expr::Leaf(_), _) => error(right_col, "NEAR 右侧只能是一个词", "例如：拆迁 NEAR/10 陵园"),
            _ => error(col, "NEAR 左侧只能是一个词", "例如：拆迁 NEAR/10 陵园"),
        }
    }

    fn primary(&mut self, scope: Scope) -> Result<Expr, RuleError> {
        let Some((tok, col)) = self.next() else {
            return error(self.end, "行尾缺少要命中的词", "在运算符或字段名后面写上词");
        };
        let leaf = |pattern| Ok(Expr::Leaf(Leaf { pattern, scope, column: col }));
        match tok {
            Tok::Open => {
                let inner = self.or(scope)?;
                match self.next() {
                    Some((Tok::Close, _)) => {}
                    _ => return error(col, "左括号 ( 没有对应的右括号 )", "在括号内容的末尾补上 )"),
                }
                match inner {
                    Some(e) => Ok(e),
                    // Vetoes only, e.g. `a (!b)`: an always-true part of the group.
                    None => Ok(Expr::All(Vec::new())),
                }
            }
            Tok::Scope(inner) => self.primary(inner),
            Tok::Word(w) | Tok::Phrase(w) => {
                if normalize_text(&w).is_empty() {
                    return error(col, "词在规范化后是空的", "请写出实际的文字");
                }
                leaf(Pattern::Literal(w))
            }
            Tok::Alias(name) => leaf(Pattern::Alias(name)),
            Tok::Regex(src) => {
                match regex::RegexBuilder::new(&src).case_insensitive(true).size_limit(1 << 20).build() {
                    Ok(re) => leaf(Pattern::Regex(Box::new(re))),
                    Err(e) => error(
                        col,
                        format!("正则表达式 /{src}/ 有误：{}", e.to_string().lines().last().unwrap_or_default().trim()),
                        "检查括号、转义和量词；斜杠本身写成 \\/",
                    ),
                }
            }
            Tok::Close => error(col, "多余的右括号 )", "删除它，或在前面补上对应的 ("),
            Tok::And | Tok::Or => error(col, "AND / OR 前面缺少要命中的词", "例如：(拆迁 OR 搬迁) AND 陵园"),
            Tok::Near(_) => error(col, "NEAR 前面缺少词", "例如：拆迁 NEAR/10 陵园"),
            Tok::Plus | Tok::Bang => error(col, "+ 或 ! 后面缺少词", "+ 与 ! 要紧贴在词前，例如：+陵园 !演习"),
            Tok::Not => error(col, "NOT 后面缺少词", "例如：拆迁 NOT 规划"),
        }
    }
}

/// Parses one line (comment already removed). `line` is its 1-based number in the file.
pub fn parse_rule(text: &str, line: usize) -> Result<Rule, RuleError> {
    let toks = tokenize(text)?;
    let end = text.chars().count() + 1;
    let mut p = Parser { toks, pos: 0, end, vetoes: Vec::new() };
    let expr = p.or(Scope::Body)?;
    if let Some((tok, col)) = p.next() {
        let what = if tok == Tok::Close { "多余的右括号 )" } else { "无法理解这里的内容" };
        return error(col, what, "检查括号是否成对");
    }
    let vetoes = std::mem::take(&mut p.vetoes);
    if let Some(e) = &expr
        && !e.yields_hit()
    {
        return error(
            1,
            "规则没有必须出现的词（只有 NOT 或 source: 条件）",
            "至少写一个要命中的词，例如：source:weibo 抚恤金",
        );
    }
    Ok(Rule { line, source: text.trim().to_string(), expr, vetoes })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A compact rendering of an expression for table tests.
    fn show(e: &Expr) -> String {
        fn leaf(l: &Leaf) -> String {
            let scope = match l.scope {
                Scope::Body => "",
                Scope::Title => "title:",
                Scope::Text => "text:",
                Scope::Author => "author:",
                Scope::Source => "source:",
            };
            let p = match &l.pattern {
                Pattern::Literal(t) => t.clone(),
                Pattern::Alias(a) => format!("{{{a}}}"),
                Pattern::Terms { alias, .. } => format!("{{{alias}}}"),
                Pattern::Regex(r) => format!("/{}/", r.as_str()),
            };
            format!("{scope}{p}")
        }
        match e {
            Expr::Leaf(l) => leaf(l),
            Expr::Near(a, b, n) => format!("near{n}({}, {})", leaf(a), leaf(b)),
            Expr::Not(e) => format!("not({})", show(e)),
            Expr::All(es) => format!("all({})", es.iter().map(show).collect::<Vec<_>>().join(", ")),
            Expr::Any(es) => format!("any({})", es.iter().map(show).collect::<Vec<_>>().join(", ")),
        }
    }

    fn parsed(line: &str) -> (String, Vec<String>) {
        let rule = parse_rule(line, 1).unwrap_or_else(|e| panic!("{line}: {e}"));
        (rule.expr.as_ref().map(show).unwrap_or_else(|| "-".into()), rule.vetoes.iter().map(show).collect())
    }

    #[test]
    fn the_rule_language_parses_as_documented() {
        let cases: &[(&str, &str, &[&str])] = &[
            ("抚恤金", "抚恤金", &[]),
            ("拆迁 搬迁", "any(拆迁, 搬迁)", &[]),
            ("拆迁 +烈士陵园 !演习", "all(拆迁, 烈士陵园)", &["演习"]),
            ("+拆迁 +陵园", "all(拆迁, 陵园)", &[]),
            ("(拆迁 OR 搬迁) AND 陵园 NOT 规划", "all(any(拆迁, 搬迁), all(陵园, not(规划)))", &[]),
            ("拆迁 OR 搬迁 AND 陵园", "any(拆迁, all(搬迁, 陵园))", &[]),
            ("拆迁 NEAR/10 陵园", "near10(拆迁, 陵园)", &[]),
            ("title:停发 抚恤金", "any(title:停发, 抚恤金)", &[]),
            ("标题:(停发 OR 取消) AND 抚恤金", "all(any(title:停发, title:取消), 抚恤金)", &[]),
            ("author:某某 text:\"拖欠 补助\"", "any(author:某某, text:拖欠 补助)", &[]),
            ("/抚恤金.{0,4}停发/", "/抚恤金.{0,4}停发/", &[]),
            ("/a\\/b/", "/a/b/", &[]),
            ("{本局} AND 不作为", "all({本局}, 不作为)", &[]),
            ("source:weibo AND 抚恤金", "all(source:weibo, 抚恤金)", &[]),
            ("!演习 !演练", "-", &["演习", "演练"]),
            ("(拆迁 !演习) OR 强拆", "any(拆迁, 强拆)", &["演习"]),
            ("“烈士 陵园”", "烈士 陵园", &[]),
            ("C++ 的", "any(C++, 的)", &[]),
            ("比例:50%", "比例:50%", &[]),
            ("！演习 拆迁", "拆迁", &["演习"]),
            // Colons that are not field prefixes stay words; a quoted phrase is always one.
            ("https://t.cn/abc", "https://t.cn/abc", &[]),
            ("\"QQ:12345\"", "QQ:12345", &[]),
            ("12345:热线", "12345:热线", &[]),
        ];
        for (line, want, vetoes) in cases {
            let (expr, got_vetoes) = parsed(line);
            assert_eq!(expr, *want, "{line}");
            assert_eq!(got_vetoes, vetoes.iter().map(|s| s.to_string()).collect::<Vec<_>>(), "{line}");
        }
    }

    #[test]
    fn errors_name_the_column_and_what_is_wrong() {
        let cases: &[(&str, usize, &str)] = &[
            ("(拆迁 OR 搬迁", 1, "右括号"),
            ("拆迁)", 3, "多余的右括号"),
            ("拆迁 AND", 7, "缺少要命中的词"),
            ("OR 拆迁", 1, "缺少要命中的词"),
            ("拆迁 NEAR/0 陵园", 4, "距离"),
            ("拆迁 NEAR/x 陵园", 4, "距离"),
            ("(a OR b) NEAR/5 c", 1, "NEAR 左侧"),
            ("/抚恤金(停发/", 1, "正则表达式"),
            ("\"烈士陵园", 1, "没有结束"),
            ("{}", 1, "别名是空的"),
            ("NOT 拆迁", 1, "没有必须出现的词"),
            ("source:weibo", 1, "没有必须出现的词"),
            ("source:weibo OR 抚恤金", 1, "没有必须出现的词"),
            ("source:weibo 抚恤金", 1, "没有必须出现的词"),
            ("拆迁 OR !演习", 1, "OR 的一侧只有排除词"),
            ("拆迁 +", 4, "+ 或 ! 后面缺少词"),
            ("titel:停发", 1, "未知的字段 \"titel:\""),
            ("抚恤金 Title:停发", 5, "未知的字段 \"Title:\""),
            ("抚恤金 AND url:(a OR b)", 9, "未知的字段 \"url:\""),
            ("标提：停发", 1, "未知的字段 \"标提:\""),
        ];
        for (line, column, fragment) in cases {
            match parse_rule(line, 1) {
                Ok(r) => panic!("{line}: parsed as {:?}", r.expr.as_ref().map(show)),
                Err(e) => {
                    assert_eq!(e.column, *column, "{line}: {e}");
                    assert!(e.message.contains(fragment), "{line}: {e}");
                    assert!(!e.hint.is_empty(), "{line}");
                }
            }
        }
    }

    #[test]
    fn a_misspelt_field_names_the_field_it_resembles() {
        let hint = |line: &str| parse_rule(line, 1).map(|_| String::new()).unwrap_or_else(|e| e.hint);
        assert!(hint("titel:停发").starts_with("是不是 title:？"), "{}", hint("titel:停发"));
        assert!(hint("Source:weibo 抚恤金").starts_with("是不是 source:？"));
        assert!(hint("标提:停发").starts_with("是不是 标题:？"));
        assert!(hint("qq:12345").contains("请加引号：\"qq:12345\""));
    }

    #[test]
    fn plain_terms_are_recognised_for_the_fast_path() {
        assert_eq!(parse_rule("抚恤金", 1).expect("parses").as_plain_term(), Some("抚恤金"));
        assert_eq!(parse_rule("title:抚恤金", 1).expect("parses").as_plain_term(), None);
        assert_eq!(parse_rule("抚恤金 !演习", 1).expect("parses").as_plain_term(), None);
    }
}
