//! TLS to the PostgreSQL server over rustls, when the url asks for it: `sslmode=require`
//! (or `verify-ca`, `verify-full`) encrypts the connection and verifies the server's
//! certificate and name — against the system's roots, or the CA in `sslrootcert=PATH`.
//! `disable`, `allow` and `prefer` connect without TLS. tokio-postgres knows neither
//! `sslrootcert` nor the `verify-*` modes, so they are taken out of the url here.

use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::pki_types::{CertificateDer, ServerName, pem::PemObject};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::Socket;
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect};

/// What the url says about TLS.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TlsOptions {
    /// Encrypt and verify (`sslmode=require`, `verify-ca`, `verify-full`).
    pub(crate) required: bool,
    /// The CA certificates to trust instead of the system's (`sslrootcert`).
    pub(crate) root_cert: Option<PathBuf>,
}

/// `url` without its TLS options (what tokio-postgres parses), and those options; an
/// `sslmode` that PostgreSQL does not know is an error naming the ones it does.
pub(crate) fn split(url: &str) -> Result<(String, TlsOptions), String> {
    let mut options = TlsOptions::default();
    let mut take = |key: &str, value: &str| -> Result<bool, String> {
        match key {
            "sslmode" => {
                options.required = match value {
                    "disable" | "allow" | "prefer" => false,
                    "require" | "verify-ca" | "verify-full" => true,
                    other => {
                        return Err(format!(
                            "sslmode {other:?} is not one of disable, allow, prefer, require, \
                             verify-ca, verify-full"
                        ));
                    }
                };
                Ok(true)
            }
            "sslrootcert" => {
                options.root_cert = Some(PathBuf::from(value));
                Ok(true)
            }
            _ => Ok(false),
        }
    };
    let rest = if let Some((base, query)) = url
        .split_once('?')
        .filter(|_| url.starts_with("postgres://") || url.starts_with("postgresql://"))
    {
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            // `%2F` and the like: `sslrootcert` is a path.
            let value = percent_encoding::percent_decode_str(value).decode_utf8_lossy();
            if !take(key, &value)? {
                kept.push(pair);
            }
        }
        if kept.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", kept.join("&"))
        }
    } else if url.contains("://") {
        url.to_owned()
    } else {
        // key=value pairs.
        let mut kept = Vec::new();
        for pair in url.split_whitespace() {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            if !take(key.trim(), value.trim_matches('\''))? {
                kept.push(pair);
            }
        }
        kept.join(" ")
    };
    Ok((rest, options))
}

/// Makes rustls connections for tokio-postgres (and the pool).
#[derive(Clone)]
pub(crate) struct Rustls(Arc<rustls::ClientConfig>);

impl Rustls {
    /// A connector trusting `options.root_cert`'s certificates, else the system's roots.
    pub(crate) fn new(options: &TlsOptions) -> Result<Rustls, String> {
        let mut roots = rustls::RootCertStore::empty();
        match &options.root_cert {
            Some(path) => {
                let certs = CertificateDer::pem_file_iter(path)
                    .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                    .map_err(|e| format!("cannot read sslrootcert {}: {e}", path.display()))?;
                if certs.is_empty() {
                    return Err(format!(
                        "sslrootcert {} holds no PEM certificate",
                        path.display()
                    ));
                }
                for cert in certs {
                    roots.add(cert).map_err(|e| {
                        format!("sslrootcert {} is not usable: {e}", path.display())
                    })?;
                }
            }
            None => {
                let found = rustls_native_certs::load_native_certs();
                roots.add_parsable_certificates(found.certs);
                if roots.is_empty() {
                    return Err(
                        "no system CA certificates were found to verify the server; \
                                name one with sslrootcert=PATH in the url"
                            .to_owned(),
                    );
                }
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Rustls(Arc::new(config)))
    }
}

impl MakeTlsConnect<Socket> for Rustls {
    type Stream = Stream;
    type TlsConnect = Connect;
    type Error = rustls::pki_types::InvalidDnsNameError;

    fn make_tls_connect(&mut self, domain: &str) -> Result<Connect, Self::Error> {
        Ok(Connect {
            config: self.0.clone(),
            name: ServerName::try_from(domain.to_owned())?,
        })
    }
}

/// One TLS handshake with the server `name`.
pub(crate) struct Connect {
    config: Arc<rustls::ClientConfig>,
    name: ServerName<'static>,
}

impl TlsConnect<Socket> for Connect {
    type Stream = Stream;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Stream>> + Send>>;

    fn connect(self, socket: Socket) -> Self::Future {
        Box::pin(async move {
            let connector = tokio_rustls::TlsConnector::from(self.config);
            Ok(Stream(connector.connect(self.name, socket).await?))
        })
    }
}

/// An encrypted connection to the server.
pub(crate) struct Stream(tokio_rustls::client::TlsStream<Socket>);

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }
}

impl tokio_postgres::tls::TlsStream for Stream {
    /// No channel binding: SCRAM authenticates without it (`SCRAM-SHA-256`, not `-PLUS`).
    fn channel_binding(&self) -> ChannelBinding {
        ChannelBinding::none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_options_come_out_of_the_url() {
        let (rest, options) =
            split("postgres://u:p@db:5432/brains?sslmode=require&sslrootcert=%2Fetc%2Fca.pem")
                .unwrap();
        assert_eq!(rest, "postgres://u:p@db:5432/brains");
        assert!(options.required);
        assert_eq!(options.root_cert, Some(PathBuf::from("/etc/ca.pem")));

        let (rest, options) =
            split("postgres://db/brains?application_name=x&sslmode=verify-full").unwrap();
        assert_eq!(rest, "postgres://db/brains?application_name=x");
        assert!(options.required && options.root_cert.is_none());

        let (rest, options) = split("host=db user=u sslmode=prefer dbname=brains").unwrap();
        assert_eq!(rest, "host=db user=u dbname=brains");
        assert!(!options.required);

        let (rest, options) = split("postgres://db/brains").unwrap();
        assert_eq!(rest, "postgres://db/brains");
        assert_eq!(options, TlsOptions::default());

        let error = split("postgres://db/brains?sslmode=always").unwrap_err();
        assert!(
            error.contains("\"always\"") && error.contains("verify-full"),
            "{error}"
        );
    }
}
