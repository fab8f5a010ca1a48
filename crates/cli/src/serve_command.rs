//! `coffer serve`: a store as an S3- and OSS-compatible endpoint, until
//! SIGTERM or Ctrl-C (then the requests in flight finish, up to the
//! gateway's drain timeout). The store is the one `--dir` names, or the
//! configuration's `[engine]`: coffer over an S3 bucket.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use coffer_gateway::{EngineConfig, Gateway, GatewayConfig, S3EngineConfig};
use coffer_keyring::RootKey;
use coffer_remote::{RemoteOptions, RemoteStore};
use coffer_sse::ObjectApi;
use object_store::aws::{AmazonS3Builder, S3ConditionalPut};
use serde_json::json;
use tokio::signal::unix::{SignalKind, signal};

use crate::exit::Failure;
use crate::output::Output;

/// The configuration in `path`, or a usage failure naming what is wrong.
pub(crate) fn load(path: &Path) -> Result<GatewayConfig, Failure> {
    GatewayConfig::load(path).map_err(|e| Failure::Usage(e.to_string()))
}

/// Whether the configuration names an engine of its own (then no `--dir`
/// store is opened).
pub(crate) fn has_engine(config: &GatewayConfig) -> bool {
    config.engine.is_some()
}

/// Serves the configuration's own engine.
pub(crate) fn serve_engine(
    config: &GatewayConfig,
    listen: Option<SocketAddr>,
    out: &Output,
) -> Result<(), Failure> {
    match &config.engine {
        Some(EngineConfig::S3(s3)) => serve(remote_store(s3)?, config, listen, out),
        Some(_) => Err(Failure::Usage(
            "this [engine] kind is not known to this build".into(),
        )),
        None => Err(Failure::Usage("the configuration names no [engine]".into())),
    }
}

/// coffer over the S3 bucket `s3` names.
fn remote_store(s3: &S3EngineConfig) -> Result<RemoteStore, Failure> {
    let usage = |what: &str| Failure::Usage(format!("[engine] {what}"));
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let access_key_id = s3
        .access_key_id
        .clone()
        .or_else(|| env("AWS_ACCESS_KEY_ID"))
        .ok_or_else(|| usage("needs access_key_id (or AWS_ACCESS_KEY_ID)"))?;
    let secret = match &s3.secret_access_key_file {
        Some(file) => zeroize::Zeroizing::new(
            std::fs::read_to_string(file)
                .map_err(|e| Failure::Io(file.display().to_string(), e))?
                .trim()
                .to_owned(),
        ),
        None => zeroize::Zeroizing::new(
            env("AWS_SECRET_ACCESS_KEY")
                .ok_or_else(|| usage("needs secret_access_key_file (or AWS_SECRET_ACCESS_KEY)"))?,
        ),
    };
    let mut builder = AmazonS3Builder::new()
        .with_bucket_name(&s3.bucket)
        .with_region(&s3.region)
        .with_access_key_id(access_key_id)
        .with_secret_access_key(secret.as_str())
        .with_allow_http(s3.allow_http)
        .with_conditional_put(S3ConditionalPut::ETagMatch);
    if let Some(endpoint) = &s3.endpoint {
        builder = builder.with_endpoint(endpoint);
    }
    let backend = Arc::new(
        builder
            .build()
            .map_err(|e| usage(&format!("the S3 client: {e}")))?,
    );
    let root = if s3.create && !s3.root_key_file.exists() {
        RootKey::create_key_file(&s3.root_key_file)?
    } else {
        RootKey::from_file(&s3.root_key_file)?
    };
    let options = RemoteOptions::new(root)
        .create_if_missing(s3.create)
        .with_multipart_store(backend.clone());
    Ok(RemoteStore::open(backend, options)?)
}

/// Serves `api` as `config` says, until a signal.
pub(crate) fn serve<A: ObjectApi + 'static>(
    api: A,
    config: &GatewayConfig,
    listen: Option<SocketAddr>,
    out: &Output,
) -> Result<(), Failure> {
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
    let gateway = Gateway::with_settings(api, keys, &config.region, config.max_object_size);
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
