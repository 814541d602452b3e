//! The SMTP client: a small pool of reused connections (`[mail] connections`, each on a
//! socket we open ourselves with `TCP_NODELAY`), driven by lettre's `AsyncSmtpConnection`
//! (EHLO, STARTTLS, AUTH, MAIL/RCPT/DATA). Up to `connections` messages are in flight at
//! once, each on its own connection; a connection is opened when a send finds none idle
//! and goes back to the pool after a successful transaction.
//!
//! Why not lettre's `AsyncSmtpTransport`: lettre writes a message body and its final
//! `\r\n.\r\n` as two writes; on its socket (no `TCP_NODELAY`) Nagle's algorithm holds the
//! second until the server's delayed ACK, 40 ms on Linux. Measured: 48 ms per message,
//! 48 s for 1,000 alerts; with `TCP_NODELAY` the same run takes about a second (see
//! BENCHMARKS.md).

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, AsyncTokioStream, Certificate, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

use super::{DeliveryError, SmtpSettings, TlsMode};
use crate::util::error_chain::error_chain;

pub(super) struct SmtpClient {
    settings: SmtpSettings,
    timeout: Duration,
    hello: ClientId,
    /// Extra trusted roots (PEM) from `ca_file`, besides the system's.
    extra_roots: Vec<Vec<u8>>,
    /// One permit per connection the pool may hold: at most this many sends at once.
    permits: Semaphore,
    /// Open connections not in use by a send.
    idle: std::sync::Mutex<Vec<AsyncSmtpConnection>>,
    connections: usize,
}

impl SmtpClient {
    pub(super) fn new(settings: &SmtpSettings, timeout: Duration, connections: usize) -> Result<Self, DeliveryError> {
        let extra_roots = match &settings.ca_file {
            None => Vec::new(),
            Some(path) => {
                vec![std::fs::read(path).map_err(|e| DeliveryError::Setup(format!("{}: {e}", path.display())))?]
            }
        };
        let hello = settings.hello_name.clone().map_or_else(ClientId::default, ClientId::Domain);
        let connections = connections.max(1);
        Ok(Self {
            settings: settings.clone(),
            timeout,
            hello,
            extra_roots,
            permits: Semaphore::new(connections),
            idle: std::sync::Mutex::new(Vec::with_capacity(connections)),
            connections,
        })
    }

    /// How many messages may be in flight at once.
    pub(super) fn connections(&self) -> usize {
        self.connections
    }

    /// Sends one message on an idle connection of the pool, or a new one. A reused
    /// connection may have been closed by the server while idle; then the message is tried
    /// once more on a fresh one. (No NOOP probe before each message: that would cost a round
    /// trip per alert.) Returns the server's answer (`250 2.0.0 Ok: queued as …`).
    pub(super) async fn send(&self, envelope: &Envelope, message: &[u8]) -> Result<String, DeliveryError> {
        let _permit = self.permits.acquire().await.map_err(|_| DeliveryError::Smtp("connection pool closed".into()))?;
        let mut slot = self.take_idle();
        let result = self.send_in(&mut slot, envelope, message).await;
        // Only a connection that just completed a transaction goes back (send_on drops it
        // on any failure).
        if let Some(conn) = slot
            && let Ok(mut idle) = self.idle.lock()
        {
            idle.push(conn);
        }
        result
    }

    /// The most recently used idle connection that is not known to be broken.
    fn take_idle(&self) -> Option<AsyncSmtpConnection> {
        let mut idle = self.idle.lock().ok()?;
        while let Some(conn) = idle.pop() {
            if !conn.has_broken() {
                return Some(conn);
            }
        }
        None
    }

    async fn send_in(
        &self,
        slot: &mut Option<AsyncSmtpConnection>,
        envelope: &Envelope,
        message: &[u8],
    ) -> Result<String, DeliveryError> {
        if slot.is_some() {
            match self.send_on(slot, envelope, message).await {
                Ok(answer) => return Ok(answer),
                // The server answered (a rejection) or we gave up waiting: no second try.
                Err((e, false)) => return Err(e),
                Err((e, true)) => tracing::debug!(error = %e, "reused SMTP connection is dead; reconnecting"),
            }
        }
        *slot = Some(self.with_timeout(self.connect()).await?);
        self.send_on(slot, envelope, message).await.map_err(|(e, _)| e)
    }

    /// Sends on the connection in `slot`; drops the connection on any failure. The flag
    /// says whether the failure was the connection itself (no SMTP status code, no timeout), so
    /// that trying again on a new connection cannot duplicate an accepted message.
    async fn send_on(
        &self,
        slot: &mut Option<AsyncSmtpConnection>,
        envelope: &Envelope,
        message: &[u8],
    ) -> Result<String, (DeliveryError, bool)> {
        let Some(conn) = slot.as_mut() else {
            return Err((DeliveryError::Smtp("no connection".into()), true));
        };
        let result = match tokio::time::timeout(self.timeout, conn.send(envelope, message)).await {
            Ok(Ok(response)) => Ok(format!("{} {}", response.code(), response.message().collect::<Vec<_>>().join(" "))),
            Ok(Err(e)) => {
                let dead_connection = !e.is_transient() && !e.is_permanent() && !e.is_timeout();
                Err((DeliveryError::Smtp(error_chain(&e)), dead_connection))
            }
            Err(_) => Err((DeliveryError::Smtp(format!("timed out after {:?}", self.timeout)), false)),
        };
        if result.is_err() {
            *slot = None;
        }
        result
    }

    async fn with_timeout<T>(&self, fut: impl Future<Output = Result<T, DeliveryError>>) -> Result<T, DeliveryError> {
        tokio::time::timeout(self.timeout, fut)
            .await
            .unwrap_or_else(|_| Err(DeliveryError::Smtp(format!("timed out after {:?}", self.timeout))))
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, DeliveryError> {
        let s = &self.settings;
        let smtp = |e: lettre::transport::smtp::Error| DeliveryError::Smtp(error_chain(&e));
        let tcp = TcpStream::connect((s.host.as_str(), s.port))
            .await
            .map_err(|e| DeliveryError::Smtp(format!("cannot connect to {}:{}: {e}", s.host, s.port)))?;
        tcp.set_nodelay(true).map_err(|e| DeliveryError::Smtp(e.to_string()))?;
        let mut conn = match s.tls {
            TlsMode::None => {
                AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &self.hello).await.map_err(smtp)?
            }
            TlsMode::StartTls => {
                let mut conn =
                    AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &self.hello).await.map_err(smtp)?;
                conn.starttls(self.starttls_parameters()?, &self.hello).await.map_err(smtp)?;
                conn
            }
            TlsMode::Tls => {
                let tls = self.implicit_tls(tcp).await?;
                AsyncSmtpConnection::connect_with_transport(Box::new(tls), &self.hello).await.map_err(smtp)?
            }
        };
        if let (Some(user), Some(password)) = (&s.username, &s.password) {
            let credentials = Credentials::new(user.clone(), password.expose().to_string());
            conn.auth(&[Mechanism::Plain, Mechanism::Login], &credentials).await.map_err(smtp)?;
        }
        Ok(conn)
    }

    fn starttls_parameters(&self) -> Result<TlsParameters, DeliveryError> {
        let mut builder = TlsParameters::builder(self.settings.host.clone());
        for pem in &self.extra_roots {
            let cert = Certificate::from_pem(pem).map_err(|e| DeliveryError::Setup(error_chain(&e)))?;
            builder = builder.add_root_certificate(cert);
        }
        builder.build_rustls().map_err(|e| DeliveryError::Setup(error_chain(&e)))
    }

    /// Implicit TLS (port 465): the handshake happens before SMTP, on our socket.
    async fn implicit_tls(&self, tcp: TcpStream) -> Result<TlsSocket, DeliveryError> {
        let setup = |e: &dyn std::fmt::Display| DeliveryError::Setup(e.to_string());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = Vec::new();
        for pem in &self.extra_roots {
            for cert in CertificateDer::pem_slice_iter(pem) {
                roots.push(cert.map_err(|e| setup(&e))?);
            }
        }
        let verifier =
            rustls_platform_verifier::Verifier::new_with_extra_roots(roots, provider.clone()).map_err(|e| setup(&e))?;
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| setup(&e))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        let name = ServerName::try_from(self.settings.host.clone()).map_err(|e| setup(&e))?;
        let stream = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .map_err(|e| DeliveryError::Smtp(format!("TLS handshake with {} failed: {e}", self.settings.host)))?;
        Ok(TlsSocket(stream))
    }
}

/// A TLS stream lettre can drive as a plain transport.
#[derive(Debug)]
struct TlsSocket(tokio_rustls::client::TlsStream<TcpStream>);

impl AsyncRead for TlsSocket {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsSocket {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }
}

impl AsyncTokioStream for TlsSocket {
    fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.0.get_ref().0.peer_addr()
    }
}
