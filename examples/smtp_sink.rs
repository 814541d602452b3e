//! A minimal SMTP sink for benchmarks: accepts every message, keeps nothing, and counts.
//!
//! `cargo run --release --example smtp_sink -- 127.0.0.1:2525 COUNT_FILE`
//!
//! Not a mail server: it exists so that `bench/e2e.sh` can measure yuqing's own delivery
//! cost apart from the per-message cost of a Python sink (aiosmtpd). It answers EHLO with
//! 8BITMIME, reads DATA up to the lone dot, and rewrites COUNT_FILE with the running total
//! after each message.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:2525".into());
    let count_file = args.next().unwrap_or_else(|| "smtp_sink.count".into());
    let listener = TcpListener::bind(&addr).await?;
    let count = Arc::new(AtomicU64::new(0));
    loop {
        let (stream, _) = listener.accept().await?;
        let (count, count_file) = (count.clone(), count_file.clone());
        tokio::spawn(async move {
            if let Err(e) = session(stream, &count, &count_file).await {
                eprintln!("smtp_sink: {e}");
            }
        });
    }
}

async fn session(stream: TcpStream, count: &AtomicU64, count_file: &str) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 sink ESMTP\r\n").await?;
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => b"250-sink\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n",
            "DATA" => {
                write.write_all(b"354 go ahead\r\n").await?;
                loop {
                    line.clear();
                    if lines.read_line(&mut line).await? == 0 {
                        return Ok(());
                    }
                    if line == ".\r\n" || line == ".\n" {
                        break;
                    }
                }
                count.fetch_add(1, Ordering::SeqCst);
                // Sessions run at once (yuqing sends over several connections): one write at
                // a time, each of the count as it is then, so the last write is the total.
                // (Unserialised writes of each session's own number interleaved: "9980".)
                static WRITE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
                let _one = WRITE.lock().await;
                tokio::fs::write(count_file, count.load(Ordering::SeqCst).to_string()).await?;
                b"250 accepted\r\n"
            }
            "QUIT" => {
                write.write_all(b"221 bye\r\n").await?;
                return Ok(());
            }
            _ => b"250 ok\r\n",
        };
        write.write_all(reply).await?;
    }
}
