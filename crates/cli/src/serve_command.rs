//! `coffer serve`: the store as an S3-compatible endpoint, until SIGTERM or
//! Ctrl-C (then the requests in flight finish, up to the gateway's drain
//! timeout).

use std::net::SocketAddr;
use std::path::Path;

use coffer_gateway::{Gateway, GatewayConfig};
use coffer_store::Store;
use serde_json::json;
use tokio::signal::unix::{SignalKind, signal};

use crate::exit::Failure;
use crate::output::Output;

pub(crate) fn serve(
    store: &Store,
    config: &Path,
    listen: Option<SocketAddr>,
    out: &Output,
) -> Result<(), Failure> {
    let config = GatewayConfig::load(config).map_err(|e| Failure::Usage(e.to_string()))?;
    let keys = config
        .access_keys()
        .map_err(|e| Failure::Usage(e.to_string()))?;
    if keys.is_empty() {
        return Err(Failure::Usage(
            "the configuration has no [[access_keys]]: every request would be refused".into(),
        ));
    }
    let tls = match &config.tls {
        Some(tls) => Some(
            coffer_gateway::tls_acceptor(&tls.certificate, &tls.key)
                .map_err(|e| Failure::Usage(format!("tls: {e}")))?,
        ),
        None => None,
    };
    let address = listen.unwrap_or(config.listen);
    let gateway =
        Gateway::with_settings(store.clone(), keys, &config.region, config.max_object_size);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Io("the gateway's runtime".into(), e))?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .map_err(|e| Failure::Io(format!("listening on {address}"), e))?;
        let bound = listener
            .local_addr()
            .map_err(|e| Failure::Io(format!("listening on {address}"), e))?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        out.print(
            || format!("serving the store at {scheme}://{bound}"),
            || json!({"listening": bound.to_string(), "scheme": scheme}),
        );
        let mut terminate = signal(SignalKind::terminate())
            .map_err(|e| Failure::Io("the SIGTERM handler".into(), e))?;
        let stop = async move {
            tokio::select! {
                _ = terminate.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        };
        let service = gateway
            .into_service()
            .with_virtual_hosts(&config.virtual_host_domains);
        coffer_gateway::serve(listener, service, tls, stop)
            .await
            .map_err(|e| Failure::Io(format!("serving on {bound}"), e))
    })?;
    out.print(
        || "stopped: every request in flight has finished".into(),
        || json!({"stopped": true}),
    );
    Ok(())
}
