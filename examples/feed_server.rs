//! A minimal static file server for benchmarks: HTTP/1.1 keep-alive, `ETag` and
//! `Last-Modified` from the file's size and mtime, `304 Not Modified` on a matching
//! `If-None-Match` or `If-Modified-Since`.
//!
//! `cargo run --release --example feed_server -- 127.0.0.1:8080 DIR`
//!
//! Exists so that `bench/e2e.sh` can measure yuqing's polling cost apart from Python's
//! `http.server` (HTTP/1.0, a new connection per request, ~0.5 s per 1,000 requests here).
//! Not a web server: GET only, no ranges, no directory listings.

use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:8080".into());
    let root = PathBuf::from(args.next().unwrap_or_else(|| ".".into()));
    let listener = TcpListener::bind(&addr).await?;
    loop {
        let (stream, _) = listener.accept().await?;
        let root = root.clone();
        tokio::spawn(async move {
            let _ = connection(stream, &root).await;
        });
    }
}

async fn connection(stream: TcpStream, root: &Path) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).await? == 0 {
            return Ok(());
        }
        let path = request_line.split_whitespace().nth(1).unwrap_or("/").to_string();
        let (mut if_none_match, mut if_modified_since, mut close) = (None, None, false);
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).await? == 0 {
                return Ok(());
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                let value = value.trim().to_string();
                match name.trim().to_ascii_lowercase().as_str() {
                    "if-none-match" => if_none_match = Some(value),
                    "if-modified-since" => if_modified_since = Some(value),
                    "connection" => close = value.eq_ignore_ascii_case("close"),
                    _ => {}
                }
            }
        }
        let response = respond(root, &path, if_none_match.as_deref(), if_modified_since.as_deref()).await;
        write.write_all(&response).await?;
        if close {
            return Ok(());
        }
    }
}

async fn respond(root: &Path, path: &str, if_none_match: Option<&str>, if_modified_since: Option<&str>) -> Vec<u8> {
    let relative = path.trim_start_matches('/');
    if relative.contains("..") {
        return b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n".to_vec();
    }
    let file = root.join(relative);
    let Ok(meta) = tokio::fs::metadata(&file).await else {
        return b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec();
    };
    let mtime = meta.modified().ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map_or(0, |d| d.as_secs());
    let etag = format!("\"{:x}-{:x}\"", meta.len(), mtime);
    let last_modified = httpdate(mtime);
    if if_none_match == Some(etag.as_str()) || (if_none_match.is_none() && if_modified_since == Some(&last_modified)) {
        return format!("HTTP/1.1 304 Not Modified\r\nETag: {etag}\r\nLast-Modified: {last_modified}\r\n\r\n")
            .into_bytes();
    }
    let Ok(body) = tokio::fs::read(&file).await else {
        return b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n".to_vec();
    };
    let mut out = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml; charset=utf-8\r\nContent-Length: {}\r\nETag: {etag}\r\nLast-Modified: {last_modified}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(&body);
    out
}

/// IMF-fixdate (RFC 9110) for Unix seconds.
fn httpdate(secs: u64) -> String {
    chrono::DateTime::from_timestamp(i64::try_from(secs).unwrap_or(0), 0)
        .unwrap_or_default()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}
