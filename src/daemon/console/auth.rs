//! Who is signed in to the web console, and whether a form came from our own page.
//!
//! - Passwords: argon2id hashes (PHC strings) set with `yuqing user passwd ID`.
//! - Sessions: a random 256-bit token in an `HttpOnly; SameSite=Strict` cookie; the store
//!   keeps only its SHA-256, with the person, a per-session form key and the expiry.
//! - Forms: every POST carries a token `nonce.mac` made for that session and that action's
//!   path (HMAC-SHA256 with the session's form key); each token works once.
//! - Failed sign-ins: after [`MAX_FAILURES`] within [`LOCKOUT`] a person id is refused until
//!   the window has passed; an address after [`MAX_FAILURES_PER_ADDRESS`].

use std::collections::HashMap;
use std::sync::Mutex;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use chrono::{DateTime, Utc};
use hmac::{KeyInit, Mac};
use ring::rand::SecureRandom;
use sha2::{Digest, Sha256};

use crate::util::hex;

/// The session cookie's name.
pub const COOKIE: &str = "yuqing_session";
/// Failed sign-ins allowed for one person id within [`LOCKOUT`].
pub const MAX_FAILURES: u32 = 5;
/// Failed sign-ins allowed from one address within [`LOCKOUT`]: more, since the whole office
/// may reach the console through one reverse proxy.
pub const MAX_FAILURES_PER_ADDRESS: u32 = 50;
/// How long a run of failed sign-ins is remembered and a locked id stays locked.
pub const LOCKOUT: chrono::Duration = chrono::Duration::minutes(15);
/// The shortest password `yuqing user passwd` accepts.
pub const MIN_PASSWORD_CHARS: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("the system random source failed")]
    Random,
    #[error("cannot hash the password: {0}")]
    Hash(String),
}

/// `n` random bytes as hex.
pub fn random_hex(n: usize) -> Result<String, AuthError> {
    let mut bytes = vec![0u8; n];
    ring::rand::SystemRandom::new().fill(&mut bytes).map_err(|_| AuthError::Random)?;
    Ok(hex(&bytes))
}

pub fn sha256_hex(text: &str) -> String {
    hex(&Sha256::digest(text.as_bytes()))
}

/// An argon2id hash of `password` with a fresh salt.
pub fn hash_password(password: &str) -> Result<String, AuthError> {
    let mut salt = [0u8; 16];
    ring::rand::SystemRandom::new().fill(&mut salt).map_err(|_| AuthError::Random)?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| AuthError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AuthError::Hash(e.to_string()))
}

/// Whether `password` matches a stored hash (a malformed hash matches nothing).
pub fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

fn mac(form_key: &str, nonce: &str, path: &str) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac =
        <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(form_key.as_bytes()).unwrap_or_else(|_| unreachable!());
    mac.update(nonce.as_bytes());
    mac.update(b"|");
    mac.update(path.as_bytes());
    hex(&mac.finalize().into_bytes())
}

/// A one-time form token for a POST to `path` in the session with `form_key`.
pub fn form_token(form_key: &str, path: &str) -> Result<String, AuthError> {
    let nonce = random_hex(16)?;
    let mac = mac(form_key, &nonce, path);
    Ok(format!("{nonce}.{mac}"))
}

/// Whether `token` was made by [`form_token`] for this session and path (not whether it
/// was used before: the store says that).
pub fn form_token_valid(form_key: &str, path: &str, token: &str) -> bool {
    let Some((nonce, given)) = token.split_once('.') else { return false };
    let expected = mac(form_key, nonce, path);
    // Constant time: compare every byte.
    expected.len() == given.len() && expected.bytes().zip(given.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

/// Recent failed sign-ins per key (a person id, or `ip:` and an address).
#[derive(Debug, Default)]
pub struct Limiter {
    failures: Mutex<HashMap<String, (u32, DateTime<Utc>)>>,
}

impl Limiter {
    /// `Err(until)` while `key` is locked out.
    pub fn check(&self, key: &str, max: u32, now: DateTime<Utc>) -> Result<(), DateTime<Utc>> {
        let Ok(map) = self.failures.lock() else { return Ok(()) };
        match map.get(key) {
            Some(&(n, first)) if n >= max && now < first + LOCKOUT => Err(first + LOCKOUT),
            _ => Ok(()),
        }
    }

    pub fn failed(&self, key: &str, now: DateTime<Utc>) {
        let Ok(mut map) = self.failures.lock() else { return };
        map.retain(|_, (_, first)| now < *first + LOCKOUT);
        let entry = map.entry(key.to_string()).or_insert((0, now));
        entry.0 += 1;
    }

    pub fn succeeded(&self, key: &str) {
        if let Ok(mut map) = self.failures.lock() {
            map.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_verifies_only_against_its_own_hash() {
        let hash = hash_password("correct horse").unwrap_or_default();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password(&hash, "correct horse"));
        assert!(!verify_password(&hash, "correct horsE"));
        assert!(!verify_password("not a hash", "correct horse"));
        assert_ne!(hash, hash_password("correct horse").unwrap_or_default(), "a fresh salt each time");
    }

    #[test]
    fn a_form_token_is_bound_to_its_session_and_path() {
        let token = form_token("key-a", "/events/3/accept").unwrap_or_default();
        assert!(form_token_valid("key-a", "/events/3/accept", &token));
        assert!(!form_token_valid("key-b", "/events/3/accept", &token), "another session");
        assert!(!form_token_valid("key-a", "/events/4/accept", &token), "another event");
        assert!(!form_token_valid("key-a", "/events/3/close", &token), "another action");
        let (nonce, _) = token.split_once('.').unwrap_or_default();
        assert!(!form_token_valid("key-a", "/events/3/accept", &format!("{nonce}.{}", "0".repeat(64))));
        assert!(!form_token_valid("key-a", "/events/3/accept", ""));
    }

    #[test]
    fn sign_ins_lock_after_repeated_failures_and_unlock_after_the_window() {
        let limiter = Limiter::default();
        let t0 = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        for _ in 0..MAX_FAILURES - 1 {
            limiter.failed("wang", t0);
        }
        assert!(limiter.check("wang", MAX_FAILURES, t0).is_ok());
        limiter.failed("wang", t0);
        assert_eq!(limiter.check("wang", MAX_FAILURES, t0), Err(t0 + LOCKOUT));
        assert!(limiter.check("li", MAX_FAILURES, t0).is_ok(), "other ids are not affected");
        assert!(limiter.check("wang", MAX_FAILURES, t0 + LOCKOUT).is_ok());
    }
}
