//! Small helpers with no domain knowledge, shared by every layer: the one-line rendering
//! of an error chain ([`error_chain`]), did-you-mean suggestions ([`similar`]), what the
//! network adapters share ([`net`]), the shared word segmenter ([`segment`]), lower-case hex
//! and byte counts in words.

pub mod error_chain;
pub mod net;
pub mod segment;
pub mod similar;

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// Bytes in words, binary units: "1.5 GiB".
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}
