//! The HTTP server: HTTP/1.1 and HTTP/2 on one listener, over TLS when given
//! an acceptor, stopping cleanly.
//!
//! When `shutdown` completes the listener closes, idle connections are
//! closed, and requests in flight run to their end (up to [`DRAIN_TIMEOUT`])
//! before [`serve`] returns: a SIGTERM loses no acknowledged write, and a
//! write cut off by the timeout is one the engine never made visible.

use std::future::Future;
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use coffer_sse::ObjectApi;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnectionBuilder;
use hyper_util::server::graceful::GracefulShutdown;

use crate::GatewayService;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// How long requests in flight may run on once shutdown is asked for.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves `service` on `listener` (over TLS with `tls`) until `shutdown`
/// completes, then drains the requests in flight. Errors of one connection
/// are logged and end only that connection; an error accepting is returned
/// only if it is not transient.
pub async fn serve<A: ObjectApi + 'static>(
    listener: TcpListener,
    service: GatewayService<A>,
    tls: Option<TlsAcceptor>,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let connections = ConnectionBuilder::new(TokioExecutor::new());
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (socket, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) if transient(&error) => {
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
                Err(error) => return Err(error),
            },
            () = &mut shutdown => break,
        };
        let _ = socket.set_nodelay(true);
        match &tls {
            None => {
                let connection = connections
                    .serve_connection(TokioIo::new(socket), service.clone())
                    .into_owned();
                let connection = graceful.watch(connection);
                tokio::spawn(async move {
                    if let Err(error) = connection.await {
                        tracing::debug!(%peer, error = %error, "connection ended with an error");
                    }
                });
            }
            Some(acceptor) => {
                let acceptor = acceptor.clone();
                let service = service.clone();
                let connections = connections.clone();
                let watcher = graceful.watcher();
                tokio::spawn(async move {
                    let stream = match acceptor.accept(socket).await {
                        Ok(stream) => stream,
                        Err(error) => {
                            tracing::debug!(%peer, %error, "TLS handshake failed");
                            return;
                        }
                    };
                    let connection = connections
                        .serve_connection(TokioIo::new(stream), service)
                        .into_owned();
                    if let Err(error) = watcher.watch(connection).await {
                        tracing::debug!(%peer, error = %error, "connection ended with an error");
                    }
                });
            }
        }
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(DRAIN_TIMEOUT) => {
            tracing::warn!("requests still running after {DRAIN_TIMEOUT:?} were cut off");
        }
    }
    Ok(())
}

/// Errors after which accepting again may work (a full file table, a
/// connection reset before it was accepted).
fn transient(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    ) || error
        .raw_os_error()
        .is_some_and(|code| code == 23 || code == 24)
}

/// A TLS acceptor (TLS 1.2 and 1.3, rustls on ring; `h2` and `http/1.1`
/// offered) for the PEM certificate chain and private key in the two files.
pub fn tls_acceptor(certificate: &Path, key: &Path) -> io::Result<TlsAcceptor> {
    let invalid = |what: &Path, error: &dyn std::fmt::Display| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: {error}", what.display()),
        )
    };
    let chain = CertificateDer::pem_file_iter(certificate)
        .map_err(|e| invalid(certificate, &e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(certificate, &e))?;
    if chain.is_empty() {
        return Err(invalid(certificate, &"no certificate in the file"));
    }
    let private_key = PrivateKeyDer::from_pem_file(key).map_err(|e| invalid(key, &e))?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(chain, private_key)
        .map_err(|e| invalid(key, &e))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
