//! Signed one-click links in alert emails: a token names one event, one person and one
//! action, carries its expiry, and is signed with HMAC-SHA256 under a key only the daemon
//! holds. [`verify`] refuses a token whose any byte was changed (so the person or action
//! cannot be swapped), or that has expired. Pure: the caller supplies the key and the time.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{KeyInit, Mac};

/// The actions a link may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkAction {
    /// 受理
    Accept,
    /// 反馈 (the page asks what response was made)
    Feedback,
}

impl LinkAction {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkAction::Accept => "accept",
            LinkAction::Feedback => "feedback",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "accept" => Some(LinkAction::Accept),
            "feedback" => Some(LinkAction::Feedback),
            _ => None,
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            LinkAction::Accept => "受理",
            LinkAction::Feedback => "记录反馈",
        }
    }
}

/// What a valid token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub event_id: i64,
    pub person: String,
    pub action: LinkAction,
    pub expires: DateTime<Utc>,
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("链接不完整或格式有误")]
    Malformed,
    #[error("链接签名不符，可能被改动过")]
    BadSignature,
    #[error("链接已于 {0} 过期")]
    Expired(DateTime<Utc>),
}

const VERSION: &str = "1";

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// The signing key.
#[derive(Clone)]
pub struct LinkKey(Vec<u8>);

impl std::fmt::Debug for LinkKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkKey(…)")
    }
}

impl LinkKey {
    pub fn new(secret: &[u8]) -> Self {
        LinkKey(secret.to_vec())
    }

    fn mac(&self, payload: &[u8]) -> HmacSha256 {
        // HMAC takes a key of any length.
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(&self.0).unwrap_or_else(|_| unreachable!());
        mac.update(payload);
        mac
    }
}

/// The token for `claim`: base64url(payload) "." base64url(HMAC-SHA256(key, payload)).
pub fn sign(key: &LinkKey, claim: &Claim) -> String {
    let payload = format!(
        "{VERSION}|{}|{}|{}|{}",
        claim.event_id,
        claim.action.as_str(),
        claim.expires.timestamp(),
        claim.person
    );
    let tag = key.mac(payload.as_bytes()).finalize().into_bytes();
    format!("{}.{}", URL_SAFE_NO_PAD.encode(payload), URL_SAFE_NO_PAD.encode(tag))
}

/// The claim of a token signed with `key` and not expired at `now`. The signature is checked
/// (in constant time) before anything in the payload is believed.
pub fn verify(key: &LinkKey, token: &str, now: DateTime<Utc>) -> Result<Claim, LinkError> {
    let (payload, tag) = token.split_once('.').ok_or(LinkError::Malformed)?;
    let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| LinkError::Malformed)?;
    let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| LinkError::Malformed)?;
    key.mac(&payload).verify_slice(&tag).map_err(|_| LinkError::BadSignature)?;
    let payload = String::from_utf8(payload).map_err(|_| LinkError::Malformed)?;
    let mut parts = payload.splitn(5, '|');
    let mut next = || parts.next().ok_or(LinkError::Malformed);
    if next()? != VERSION {
        return Err(LinkError::Malformed);
    }
    let event_id = next()?.parse().map_err(|_| LinkError::Malformed)?;
    let action = LinkAction::parse(next()?).ok_or(LinkError::Malformed)?;
    let expires =
        next()?.parse::<i64>().ok().and_then(|s| DateTime::from_timestamp(s, 0)).ok_or(LinkError::Malformed)?;
    let person = next()?.to_string();
    if now >= expires {
        return Err(LinkError::Expired(expires));
    }
    Ok(Claim { event_id, person, action, expires })
}

/// A short, stable name for a token (hex SHA-256), for the log of links used.
pub fn token_hash(token: &str) -> String {
    use sha2::Digest;
    crate::util::hex(&sha2::Sha256::digest(token.as_bytes()))
}

/// Makes link URLs under the daemon's public address.
#[derive(Debug, Clone)]
pub struct Linker {
    pub key: LinkKey,
    /// The address staff reach the daemon's endpoint at, e.g. `https://yuqing.example.gov.cn`.
    pub base_url: String,
    pub ttl: chrono::Duration,
}

impl Linker {
    /// A linker signing with `secret`, making URLs under `base_url` (`[http] public_url`)
    /// valid for `ttl` (`[http] link_ttl`).
    pub fn new(secret: &[u8], base_url: &str, ttl: std::time::Duration) -> Self {
        Linker {
            key: LinkKey::new(secret),
            base_url: base_url.to_string(),
            ttl: chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::hours(72)),
        }
    }

    /// The URL of a link for `person` to do `action` on event `event_id`, valid from `now`.
    pub fn url(&self, event_id: i64, person: &str, action: LinkAction, now: DateTime<Utc>) -> String {
        let claim = Claim { event_id, person: person.to_string(), action, expires: now + self.ttl };
        format!("{}/a/{}", self.base_url.trim_end_matches('/'), sign(&self.key, &claim))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap_or_default()
    }

    fn claim() -> Claim {
        Claim { event_id: 42, person: "li".into(), action: LinkAction::Accept, expires: t(3600) }
    }

    #[test]
    fn a_signed_claim_verifies_until_it_expires() {
        let key = LinkKey::new(b"0123456789abcdef0123456789abcdef");
        let token = sign(&key, &claim());
        assert_eq!(verify(&key, &token, t(0)), Ok(claim()));
        assert_eq!(verify(&key, &token, t(3599)), Ok(claim()));
        assert_eq!(verify(&key, &token, t(3600)), Err(LinkError::Expired(t(3600))));
        let other = LinkKey::new(b"another key entirely, 32 bytes..");
        assert_eq!(verify(&other, &token, t(0)), Err(LinkError::BadSignature), "another daemon's key");
    }

    #[test]
    fn any_change_to_the_token_is_refused() {
        let key = LinkKey::new(b"0123456789abcdef0123456789abcdef");
        let token = sign(&key, &claim());
        // Another person, another action, a later expiry: each re-encoded with the old tag.
        let (_, tag) = token.split_once('.').unwrap_or_default();
        let expires = t(3600).timestamp();
        for forged in [
            format!("1|42|accept|{expires}|chen"),
            format!("1|42|feedback|{expires}|li"),
            format!("1|42|accept|{}|li", expires + 86_400),
            format!("1|43|accept|{expires}|li"),
        ] {
            let forged = format!("{}.{tag}", URL_SAFE_NO_PAD.encode(forged));
            assert_eq!(verify(&key, &forged, t(0)), Err(LinkError::BadSignature), "{forged}");
        }
        // Every single character flipped, one at a time.
        for i in 0..token.len() {
            let mut bytes = token.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let changed = String::from_utf8(bytes).unwrap_or_default();
            if changed != token {
                assert!(verify(&key, &changed, t(0)).is_err(), "position {i}");
            }
        }
        for junk in ["", ".", "abc", "abc.def", "%%%.%%%"] {
            assert!(verify(&key, junk, t(0)).is_err(), "{junk:?}");
        }
    }

    #[test]
    fn a_person_id_with_the_separator_round_trips() {
        let key = LinkKey::new(b"k");
        let c = Claim { person: "a|b".into(), ..claim() };
        assert_eq!(verify(&key, &sign(&key, &c), t(0)), Ok(c));
    }
}
