//! Bytes → text with the right charset.
//!
//! Precedence: a byte-order mark, then the per-source override from config, then the HTTP
//! `Content-Type` charset, then the XML prolog `encoding`, then UTF-8. GB2312 and GBK labels
//! decode as GB18030 (a superset, so four-byte sequences in "GBK" pages survive). Decoding
//! never fails: undecodable bytes become U+FFFD and are counted so the caller can report them.

use encoding_rs::{DecoderResult, Encoding, GB18030, GBK, UTF_8};

/// Where the charset decision came from, for logs and the source status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CharsetOrigin {
    Bom,
    Override,
    Http,
    XmlProlog,
    Default,
}

#[derive(Debug, Clone)]
pub struct Decoded {
    pub text: String,
    pub encoding: &'static Encoding,
    pub origin: CharsetOrigin,
    /// Number of malformed byte sequences replaced with U+FFFD.
    pub malformed: usize,
}

/// Decodes `bytes`, choosing the charset by the precedence in the module docs.
pub fn decode(bytes: &[u8], content_type: Option<&str>, overridden: Option<&'static Encoding>) -> Decoded {
    if let Some((enc, bom_len)) = Encoding::for_bom(bytes) {
        return decode_with(&bytes[bom_len..], enc, CharsetOrigin::Bom);
    }
    let declared = overridden
        .map(|e| (e, CharsetOrigin::Override))
        .or_else(|| content_type.and_then(http_charset).map(|e| (e, CharsetOrigin::Http)))
        .or_else(|| xml_prolog_encoding(bytes).map(|e| (e, CharsetOrigin::XmlProlog)));
    let (enc, origin) = declared.unwrap_or((UTF_8, CharsetOrigin::Default));
    decode_with(bytes, enc, origin)
}

fn decode_with(bytes: &[u8], enc: &'static Encoding, origin: CharsetOrigin) -> Decoded {
    let enc = if enc == GBK { GB18030 } else { enc };
    // UTF-16 labels on a body without BOM are almost always wrong (the prolog was written
    // by hand); encoding_rs maps them to UTF-8 for the same reason.
    let enc = enc.output_encoding();
    let mut decoder = enc.new_decoder_without_bom_handling();
    let mut text = String::with_capacity(bytes.len() + bytes.len() / 2);
    let mut malformed = 0;
    let mut input = bytes;
    loop {
        let capacity = decoder.max_utf8_buffer_length_without_replacement(input.len()).unwrap_or(input.len() * 3 + 16);
        text.reserve(capacity);
        let (result, read) = decoder.decode_to_string_without_replacement(input, &mut text, true);
        input = &input[read..];
        match result {
            DecoderResult::InputEmpty => break,
            DecoderResult::OutputFull => continue,
            DecoderResult::Malformed(_, _) => {
                malformed += 1;
                text.push('\u{FFFD}');
            }
        }
    }
    Decoded { text, encoding: enc, origin, malformed }
}

/// The `charset=` parameter of a Content-Type header, if it names a known encoding.
pub fn http_charset(content_type: &str) -> Option<&'static Encoding> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| value.trim().trim_matches(['"', '\'']))
            .and_then(|label| Encoding::for_label(label.as_bytes()))
    })
}

/// The `encoding` pseudo-attribute of an `<?xml ...?>` declaration at the start of `bytes`.
pub fn xml_prolog_encoding(bytes: &[u8]) -> Option<&'static Encoding> {
    let (start, end) = prolog_bounds(bytes)?;
    let decl = std::str::from_utf8(&bytes[start..end]).ok()?;
    let value = attribute(decl, "encoding")?;
    Encoding::for_label(value.as_bytes())
}

/// Rewrites the prolog's `encoding="..."` to `UTF-8` after the text has been decoded, so a
/// parser reading the UTF-8 text does not decode it a second time.
pub fn relabel_prolog_utf8(text: &str) -> std::borrow::Cow<'_, str> {
    let Some((start, end)) = prolog_bounds(text.as_bytes()) else {
        return text.into();
    };
    let decl = &text[start..end];
    let Some(pos) = decl.find("encoding") else {
        return text.into();
    };
    let Some(value) = attribute(decl, "encoding") else {
        return text.into();
    };
    let Some(value_at) = decl[pos..].find(value).map(|i| start + pos + i) else {
        return text.into();
    };
    let mut out = String::with_capacity(text.len());
    out.push_str(&text[..value_at]);
    out.push_str("UTF-8");
    out.push_str(&text[value_at + value.len()..]);
    out.into()
}

/// Byte range of the `<?xml ... ?>` declaration, allowing leading whitespace.
fn prolog_bounds(bytes: &[u8]) -> Option<(usize, usize)> {
    let head = &bytes[..bytes.len().min(1024)];
    let start = head.iter().position(|b| !b.is_ascii_whitespace())?;
    if !head[start..].starts_with(b"<?xml") {
        return None;
    }
    let end = head[start..].windows(2).position(|w| w == b"?>")? + start;
    Some((start, end))
}

fn attribute<'a>(decl: &'a str, name: &str) -> Option<&'a str> {
    let rest = &decl[decl.find(name)? + name.len()..];
    let rest = rest.trim_start().strip_prefix('=')?.trim_start();
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let rest = &rest[1..];
    Some(&rest[..rest.find(quote)?])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gbk(s: &str) -> Vec<u8> {
        GBK.encode(s).0.into_owned()
    }

    #[test]
    fn gbk_declared_only_in_prolog_decodes() {
        let mut bytes = gbk("<?xml version=\"1.0\" encoding=\"gb2312\"?><rss>退役军人事务局</rss>");
        bytes.push(b'\n');
        let d = decode(&bytes, Some("application/xml"), None);
        assert_eq!(d.origin, CharsetOrigin::XmlProlog);
        assert_eq!(d.encoding, GB18030);
        assert!(d.text.contains("退役军人事务局"));
        assert_eq!(d.malformed, 0);
    }

    #[test]
    fn http_charset_wins_over_prolog() {
        let bytes = gbk("<?xml version=\"1.0\" encoding=\"utf-8\"?><a>抚恤金</a>");
        let d = decode(&bytes, Some("text/xml; charset=GBK"), None);
        assert_eq!(d.origin, CharsetOrigin::Http);
        assert!(d.text.contains("抚恤金"));
    }

    #[test]
    fn bom_wins_over_everything() {
        let mut bytes = vec![0xEF, 0xBB, 0xBF];
        bytes.extend_from_slice("<?xml version=\"1.0\" encoding=\"gbk\"?><a>烈士</a>".as_bytes());
        let d = decode(&bytes, Some("text/xml; charset=gbk"), Some(GBK));
        assert_eq!(d.origin, CharsetOrigin::Bom);
        assert!(d.text.contains("烈士"));
    }

    #[test]
    fn override_wins_over_a_lying_header() {
        let bytes = gbk("优抚对象");
        let d = decode(&bytes, Some("text/html; charset=utf-8"), Some(GBK));
        assert_eq!(d.origin, CharsetOrigin::Override);
        assert_eq!(d.text, "优抚对象");
    }

    #[test]
    fn four_byte_gb18030_in_a_gbk_page_survives() {
        // U+20000 is four bytes in GB18030: 0x95 0x32 0x82 0x36.
        let bytes = [0x95, 0x32, 0x82, 0x36];
        let d = decode(&bytes, Some("text/plain; charset=gb2312"), None);
        assert_eq!(d.text, "\u{20000}");
        assert_eq!(d.malformed, 0);
    }

    #[test]
    fn malformed_bytes_are_counted_not_fatal() {
        let d = decode(b"ok \xff\xfe\xfd done", None, None);
        assert_eq!(d.origin, CharsetOrigin::Default);
        assert!(d.malformed >= 1);
        assert!(d.text.starts_with("ok ") && d.text.ends_with(" done"));
    }

    #[test]
    fn prolog_is_relabelled_after_decoding() {
        let text = "<?xml version='1.0' encoding='gb2312'?><rss/>";
        assert_eq!(relabel_prolog_utf8(text), "<?xml version='1.0' encoding='UTF-8'?><rss/>");
        assert_eq!(relabel_prolog_utf8("<rss/>"), "<rss/>");
    }

    #[test]
    fn http_charset_parameter_parsing() {
        assert_eq!(http_charset("text/xml; charset=\"gb2312\""), Some(GBK));
        assert_eq!(http_charset("text/xml"), None);
        assert_eq!(http_charset("text/xml; charset=nonsense"), None);
    }
}
