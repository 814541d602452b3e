//! What the network adapters share: the TLS crypto provider set up once per process, and
//! the `Retry-After` header read as a delay (HTTP fetches and SMS/robot providers).

use std::time::Duration;

/// `Retry-After` as seconds or an HTTP date, capped at a day.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    let delay = match value.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => {
            let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
            (at.with_timezone(&chrono::Utc) - chrono::Utc::now()).to_std().unwrap_or(Duration::ZERO)
        }
    };
    Some(delay.min(Duration::from_secs(24 * 3600)))
}

/// reqwest is built without a default crypto provider (we use ring, not aws-lc); install
/// ring as the process default once. A second call finds it installed and does nothing.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
