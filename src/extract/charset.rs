//! Bytes → text with the right charset.
//!
//! Precedence: a byte-order mark; then the per-source override from config (the admin
//! knows best); then what the document declares — the HTTP `Content-Type` charset, else the
//! XML prolog `encoding`, else a `<meta>` charset in the first KiB; then detection.
//! Declarations are checked, not trusted blindly: bytes that are valid UTF-8 (with non-ASCII
//! text) are UTF-8 whatever a legacy label says (Chinese sites that declare gb2312 while
//! serving UTF-8 exist), and when the declared charset leaves undecodable bytes, chardetng's
//! guess is used if it decodes more cleanly. Nothing declared: UTF-8 if valid, else the
//! guess. GB2312 and GBK labels decode as GB18030 (a superset, so four-byte sequences in
//! "GBK" pages survive); Big5 works. Decoding never fails: undecodable bytes become U+FFFD
//! and are counted so the caller can report them.

use encoding_rs::{DecoderResult, Encoding, GB18030, GBK, UTF_8};

/// Where the charset decision came from, for logs and the source status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CharsetOrigin {
    Bom,
    Override,
    Http,
    XmlProlog,
    Meta,
    /// Valid UTF-8 despite a legacy declaration, or guessed by chardetng.
    Detected,
    /// Nothing declared and the bytes are valid UTF-8.
    Default,
}

impl CharsetOrigin {
    pub fn as_str(self) -> &'static str {
        match self {
            CharsetOrigin::Bom => "bom",
            CharsetOrigin::Override => "override",
            CharsetOrigin::Http => "http",
            CharsetOrigin::XmlProlog => "xml-prolog",
            CharsetOrigin::Meta => "meta",
            CharsetOrigin::Detected => "detected",
            CharsetOrigin::Default => "default",
        }
    }
}

/// How much of a document the detector reads (chardetng runs at about 5 MB/s).
const DETECT_BYTES: usize = 16 * 1024;

/// Decoded text: borrowed from the bytes when they are valid UTF-8 and decoded as such
/// (a 64 MiB feed is then not held twice), owned otherwise.
#[derive(Debug, Clone)]
pub struct Decoded<'a> {
    pub text: std::borrow::Cow<'a, str>,
    pub encoding: &'static Encoding,
    pub origin: CharsetOrigin,
    /// Number of malformed byte sequences replaced with U+FFFD.
    pub malformed: usize,
}

/// Decodes `bytes`, choosing the charset by the precedence in the module docs.
pub fn decode<'a>(bytes: &'a [u8], content_type: Option<&str>, overridden: Option<&'static Encoding>) -> Decoded<'a> {
    if let Some((enc, bom_len)) = Encoding::for_bom(bytes) {
        return decode_with(&bytes[bom_len..], enc, CharsetOrigin::Bom);
    }
    if let Some(enc) = overridden {
        return decode_with(bytes, enc, CharsetOrigin::Override);
    }
    if let Some(enc) = utf16_xml_without_bom(bytes) {
        return decode_with(bytes, enc, CharsetOrigin::Detected);
    }
    // A prolog or <meta> that could be read as ASCII cannot belong to a UTF-16 document:
    // such labels mean UTF-8 (as in the HTML standard).
    let ascii_compatible = |e: &'static Encoding| e.output_encoding();
    let declared = content_type
        .and_then(http_charset)
        .map(|e| (e, CharsetOrigin::Http))
        .or_else(|| xml_prolog_encoding(bytes).map(|e| (ascii_compatible(e), CharsetOrigin::XmlProlog)))
        .or_else(|| meta_charset(bytes).map(|e| (ascii_compatible(e), CharsetOrigin::Meta)));
    // Validated once: the UTF-8 arms below reuse it instead of validating again.
    let utf8 = std::str::from_utf8(bytes).ok();
    match (declared, utf8) {
        (Some((enc, _)), Some(text)) if enc != UTF_8 && !text.is_ascii() => utf8_text(text, CharsetOrigin::Detected),
        (Some((enc, origin)), Some(text)) if enc == UTF_8 => utf8_text(text, origin),
        (Some((enc, origin)), _) => {
            let decoded = decode_with(bytes, enc, origin);
            if decoded.malformed == 0 {
                return decoded;
            }
            let guess = detect(bytes);
            if guess.output_encoding() == decoded.encoding {
                return decoded;
            }
            let alternative = decode_with(bytes, guess, CharsetOrigin::Detected);
            if alternative.malformed < decoded.malformed { alternative } else { decoded }
        }
        (None, Some(text)) => utf8_text(text, CharsetOrigin::Default),
        (None, None) => decode_with(bytes, detect(bytes), CharsetOrigin::Detected),
    }
}

/// Text already validated as UTF-8, borrowed.
fn utf8_text(text: &str, origin: CharsetOrigin) -> Decoded<'_> {
    Decoded { text: text.into(), encoding: UTF_8, origin, malformed: 0 }
}

/// UTF-16 XML without a byte-order mark, recognised by its first two characters `<?` (the
/// XML specification's appendix F).
fn utf16_xml_without_bom(bytes: &[u8]) -> Option<&'static Encoding> {
    match bytes.get(..4)? {
        [0, b'<', 0, b'?'] => Some(encoding_rs::UTF_16BE),
        [b'<', 0, b'?', 0] => Some(encoding_rs::UTF_16LE),
        _ => None,
    }
}

/// chardetng's guess from the first [`DETECT_BYTES`], for Chinese sites (`.cn` rules).
fn detect(bytes: &[u8]) -> &'static Encoding {
    let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    let head = &bytes[..bytes.len().min(DETECT_BYTES)];
    detector.feed(head, head.len() == bytes.len());
    // The TLD is a lower-case ASCII constant: chardetng's panic conditions cannot occur.
    detector.guess(Some(b"cn"), chardetng::Utf8Detection::Allow)
}

/// The charset of a `<meta charset=...>` or `<meta http-equiv content="...; charset=...">`
/// in the first KiB (the HTML prescan, simplified).
pub fn meta_charset(bytes: &[u8]) -> Option<&'static Encoding> {
    let head: Vec<u8> = bytes[..bytes.len().min(1024)].to_ascii_lowercase();
    let mut rest = head.as_slice();
    while let Some(at) = find(rest, b"<meta") {
        let tag = &rest[at..];
        let end = tag.iter().position(|&b| b == b'>').unwrap_or(tag.len());
        let tag = &tag[..end];
        if let Some(pos) = find(tag, b"charset") {
            let value = trim_start(&tag[pos + 7..], b" \t\r\n");
            if let Some(value) = value.strip_prefix(b"=") {
                let value = trim_start(value, b" \t\r\n\"'");
                let len = value
                    .iter()
                    .position(|b| !(b.is_ascii_alphanumeric() || b"-_:.".contains(b)))
                    .unwrap_or(value.len());
                if let Some(enc) = Encoding::for_label(&value[..len]) {
                    return Some(enc);
                }
            }
        }
        rest = &rest[at + 5..];
    }
    None
}

fn trim_start<'a>(bytes: &'a [u8], strip: &[u8]) -> &'a [u8] {
    let skip = bytes.iter().take_while(|b| strip.contains(b)).count();
    &bytes[skip..]
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn decode_with<'a>(bytes: &'a [u8], enc: &'static Encoding, origin: CharsetOrigin) -> Decoded<'a> {
    let enc = if enc == GBK { GB18030 } else { enc };
    if enc == UTF_8
        && let Ok(text) = std::str::from_utf8(bytes)
    {
        return Decoded { text: text.into(), encoding: enc, origin, malformed: 0 };
    }
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
    Decoded { text: text.into(), encoding: enc, origin, malformed }
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
        // An override is never second-guessed, so the bad bytes stay bad and are counted.
        let d = decode(b"ok \xff\xfe\xfd done", Some("text/plain; charset=gbk"), Some(UTF_8));
        assert_eq!(d.origin, CharsetOrigin::Override);
        assert!(d.malformed >= 1);
        assert!(d.text.starts_with("ok ") && d.text.ends_with(" done"));
    }

    #[test]
    fn gbk_declared_only_in_meta_decodes() {
        let html = "<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=gb2312\"><title>退役军人事务局</title></head><body>优抚对象抚恤金</body></html>";
        let bytes = gbk(html);
        let d = decode(&bytes, Some("text/html"), None);
        assert_eq!((d.origin, d.encoding), (CharsetOrigin::Meta, GB18030));
        assert!(d.text.contains("优抚对象抚恤金"));
        let bytes =
            gbk(&html.replace("http-equiv=\"Content-Type\" content=\"text/html; charset=gb2312\"", "charset='GBK'"));
        let d = decode(&bytes, None, None);
        assert_eq!(d.origin, CharsetOrigin::Meta);
    }

    #[test]
    fn a_page_declaring_gb2312_but_sending_utf8_is_read_as_utf8() {
        let html = "<meta charset=\"gb2312\"><p>关于做好退役军人安置工作的通知</p>";
        let d = decode(html.as_bytes(), Some("text/html; charset=gb2312"), None);
        assert_eq!(d.origin, CharsetOrigin::Detected);
        assert!(d.text.contains("退役军人安置"));
    }

    #[test]
    fn a_page_declaring_utf8_but_sending_gbk_is_detected() {
        let text =
            "市退役军人事务局关于开展二〇二六年度烈士纪念日活动的通知。各区县退役军人事务局要高度重视，认真组织。"
                .repeat(4);
        let bytes = gbk(&text);
        let d = decode(&bytes, Some("text/html; charset=utf-8"), None);
        assert_eq!(d.origin, CharsetOrigin::Detected);
        assert_eq!(d.encoding, GB18030);
        assert_eq!(d.text, text);
    }

    #[test]
    fn undeclared_legacy_text_is_detected_and_big5_works() {
        let text = "退役軍人事務局公告：撫卹金將於本月底發放，請各位烈屬留意。".repeat(3);
        let big5 = encoding_rs::BIG5.encode(&text).0.into_owned();
        let d = decode(&big5, Some("text/html; charset=big5"), None);
        assert_eq!(d.text, text);
        let bytes = gbk("各区县退役军人事务局要高度重视烈士纪念设施保护工作，认真组织祭扫活动。");
        let d = decode(&bytes, None, None);
        assert_eq!((d.origin, d.encoding), (CharsetOrigin::Detected, GB18030));
        assert_eq!(d.malformed, 0);
    }

    /// Regression: a UTF-16 byte-order mark was honoured but then mapped to UTF-8, and the
    /// NUL-riddled text crashed the XML parser.
    #[test]
    fn utf16_with_and_without_bom_decodes() {
        let xml = "<?xml version=\"1.0\" encoding=\"utf-16\"?><rss>烈士</rss>";
        let be: Vec<u8> = xml.encode_utf16().flat_map(u16::to_be_bytes).collect();
        let le: Vec<u8> = xml.encode_utf16().flat_map(u16::to_le_bytes).collect();
        for (bytes, origin) in [
            ([&[0xFE, 0xFF][..], &be].concat(), CharsetOrigin::Bom),
            ([&[0xFF, 0xFE][..], &le].concat(), CharsetOrigin::Bom),
            (be.clone(), CharsetOrigin::Detected),
            (le.clone(), CharsetOrigin::Detected),
        ] {
            let d = decode(&bytes, None, None);
            assert_eq!((d.text.as_ref(), d.origin), (xml, origin));
        }
        // An ASCII-readable prolog that says utf-16 is wrong about itself: UTF-8.
        let d = decode(xml.as_bytes(), None, None);
        assert_eq!(d.text, xml);
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
