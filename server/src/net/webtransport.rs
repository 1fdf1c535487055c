//! WebTransport for browsers that have it (`--webtransport`): netcode over QUIC
//! datagrams, unreliable like UDP. WebTransport needs TLS: the server either signs its
//! own certificate at start (valid [`SELF_SIGNED_DAYS`] days, browsers accept it by its
//! SHA-256, which the login answer hands them) or loads a real one (`--cert`,
//! `--key`, PEM or DER).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{Context, bail};
use bevy_replicon_renet2::netcode::{
    ServerCertHash, WebServerDestination, WebTransportServer, WebTransportServerConfig,
    generate_self_signed_certificate_opinionated, get_server_cert_hash,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tavern_shared::api::Transport;

use super::Listener;

/// How long a self-signed certificate lasts: browsers take a certificate by its hash
/// only when it is valid for less than two weeks (renet2 makes it 14 days less an hour
/// from the start).
pub const SELF_SIGNED_DAYS: u64 = 13;

/// A self-signed certificate is no longer offered this long before it expires, so a
/// client that logs in does not connect with a certificate about to lapse.
const EXPIRY_MARGIN: Duration = Duration::from_secs(10 * 60);

/// WebTransport as the flags ask for it.
#[derive(Clone, Debug)]
pub struct WebTransportConfig {
    /// Where QUIC packets are received (UDP).
    pub listen: SocketAddr,
    /// A real certificate and its key; a self-signed one when `None`.
    pub certificate: Option<CertificateFiles>,
    /// The URL browsers connect to (`https://host:port`), needed with a real
    /// certificate, whose name it must carry; otherwise `https://IP:port` of the public
    /// address.
    pub url: Option<url::Url>,
}

/// `--cert` and `--key`.
#[derive(Clone, Debug)]
pub struct CertificateFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Checks a `--webtransport-url`: `https`, a host and an explicit port (WebTransport
/// needs the port).
pub fn parse_url(text: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(text).map_err(|e| format!("`{text}` is not a URL: {e}"))?;
    if url.scheme() != "https" {
        return Err(format!("`{text}`: WebTransport URLs start with https://"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("`{text}` names no host"));
    }
    if url.port().is_none() {
        return Err(format!(
            "`{text}` names no port: write it out, e.g. https://play.example.com:4433"
        ));
    }
    Ok(url)
}

/// The certificate (the file's first one) and private key in `files`, PEM or DER.
pub fn load_certificate(
    files: &CertificateFiles,
) -> anyhow::Result<(CertificateDer<'static>, PrivateKeyDer<'static>)> {
    let read = |path: &Path, what: &str| {
        std::fs::read(path).with_context(|| format!("cannot read the {what} {}", path.display()))
    };
    let cert_bytes = read(&files.cert, "certificate (--cert)")?;
    let key_bytes = read(&files.key, "private key (--key)")?;
    let cert = parse_certificate(&cert_bytes)
        .with_context(|| format!("in the certificate {} (--cert)", files.cert.display()))?;
    let key = parse_key(&key_bytes)
        .with_context(|| format!("in the private key {} (--key)", files.key.display()))?;
    Ok((cert, key))
}

fn is_pem(bytes: &[u8]) -> bool {
    bytes.windows(11).any(|w| w == b"-----BEGIN ")
}

/// The first certificate of a PEM file, or a DER one.
fn parse_certificate(bytes: &[u8]) -> anyhow::Result<CertificateDer<'static>> {
    if !is_pem(bytes) {
        if bytes.first() != Some(&0x30) {
            bail!("it is neither PEM (-----BEGIN CERTIFICATE-----) nor DER");
        }
        return Ok(CertificateDer::from(bytes.to_vec()));
    }
    let mut certs = CertificateDer::pem_slice_iter(bytes);
    match certs.next() {
        Some(Ok(cert)) => {
            if certs.next().is_some() {
                tracing::warn!(
                    "the certificate file holds a chain: WebTransport sends only its first \
                     certificate, so browsers must know its issuer"
                );
            }
            Ok(cert)
        }
        Some(Err(e)) => bail!("a bad PEM certificate: {e}"),
        None => bail!("no -----BEGIN CERTIFICATE----- block"),
    }
}

/// A PEM private key (PKCS#8, PKCS#1 or SEC1), or a DER PKCS#8 one.
fn parse_key(bytes: &[u8]) -> anyhow::Result<PrivateKeyDer<'static>> {
    if !is_pem(bytes) {
        if bytes.first() != Some(&0x30) {
            bail!("it is neither PEM (-----BEGIN PRIVATE KEY-----) nor DER");
        }
        return Ok(PrivateKeyDer::Pkcs8(bytes.to_vec().into()));
    }
    PrivateKeyDer::from_pem_slice(bytes)
        .map_err(|e| anyhow::anyhow!("no private key found in it ({e})"))
}

/// A certificate hash as the API shows it: lowercase hex.
pub fn hash_hex(hash: &ServerCertHash) -> String {
    hash.hash.iter().map(|b| format!("{b:02x}")).collect()
}

/// Starts WebTransport as `config` asks, on `runtime`; returns the socket and how the
/// login answer names it. `public` is the UDP public address, whose host the browser
/// connects to when no `url` is given.
pub fn start(
    config: &WebTransportConfig,
    public: SocketAddr,
    max_clients: usize,
    runtime: tokio::runtime::Handle,
) -> anyhow::Result<(WebTransportServer, Listener)> {
    let listen = config.listen;
    if config.certificate.is_some() && config.url.is_none() {
        tracing::warn!(
            "--cert without --webtransport-url: browsers open WebTransport at the public \
             address's IP, which a certificate for a domain name does not cover"
        );
    }
    // A real certificate, or one signed here, offered by its hash until shortly before
    // it expires.
    let (cert, key, cert_hash, valid_until) = match &config.certificate {
        Some(files) => {
            let (cert, key) = load_certificate(files)?;
            (cert, key, None, None)
        }
        None => {
            let names: Vec<WebServerDestination> = match &config.url {
                Some(url) => vec![url.clone().into()],
                None => vec![SocketAddr::new(public.ip(), listen.port()).into()],
            };
            let (cert, key) = generate_self_signed_certificate_opinionated(names)
                .context("cannot make a self-signed certificate for WebTransport")?;
            let hash = hash_hex(&get_server_cert_hash(&cert));
            tracing::info!(
                days = SELF_SIGNED_DAYS,
                "WebTransport uses a self-signed certificate, offered to browsers by its \
                 hash until it expires (browsers then use the WebSocket); restart the \
                 server within that time or give --cert and --key"
            );
            let lifetime = Duration::from_secs(SELF_SIGNED_DAYS * 24 * 3600);
            (
                cert,
                key,
                Some(hash),
                Some(SystemTime::now() + lifetime - EXPIRY_MARGIN),
            )
        }
    };
    let server_config = WebTransportServerConfig {
        cert,
        key,
        listen,
        max_clients,
    };
    let server = WebTransportServer::new(server_config, runtime)
        .with_context(|| format!("cannot listen for WebTransport on {listen} (--webtransport)"))?;
    let bound = bevy_replicon_renet2::netcode::ServerSocket::addr(&server)?;
    let destination: WebServerDestination = match &config.url {
        Some(url) => url.clone().into(),
        None => super::public_for(bound, public).into(),
    };
    let address = url::Url::try_from(destination.clone())
        .map(String::from)
        .map_err(|()| anyhow::anyhow!("cannot make a URL of the WebTransport address"))?;
    let listener = Listener {
        transport: Transport::WebTransport,
        token_addr: destination.into(),
        address,
        cert_hash,
        valid_until,
    };
    Ok((server, listener))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_need_https_a_host_and_a_port() {
        assert!(parse_url("https://play.example.com:4433").is_ok());
        assert!(parse_url("https://[::1]:4433/").is_ok());
        for (bad, says) in [
            ("http://play.example.com:4433", "https://"),
            ("https://play.example.com", "no port"),
            ("play.example.com:4433", "https://"),
            ("not a url", "not a URL"),
        ] {
            let e = parse_url(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn certificates_and_keys_load_from_pem_or_der() {
        let (cert, key) = generate_self_signed_certificate_opinionated(["127.0.0.1:4433"
            .parse::<SocketAddr>()
            .unwrap()])
        .unwrap();
        let cert_pem = pem("CERTIFICATE", cert.as_ref());
        let key_pem = pem("PRIVATE KEY", key.secret_der());
        assert_eq!(parse_certificate(&cert_pem).unwrap(), cert);
        assert_eq!(parse_certificate(cert.as_ref()).unwrap(), cert);
        // A chain: the first is the server's.
        let chain = [
            cert_pem.clone(),
            pem("CERTIFICATE", b"\x30\x03\x02\x01\x01"),
        ]
        .concat();
        assert_eq!(parse_certificate(&chain).unwrap(), cert);
        assert_eq!(parse_key(&key_pem).unwrap().secret_der(), key.secret_der());
        assert_eq!(
            parse_key(key.secret_der()).unwrap().secret_der(),
            key.secret_der()
        );
        // What people pass by mistake.
        let e = parse_certificate(&key_pem).unwrap_err().to_string();
        assert!(e.contains("no -----BEGIN CERTIFICATE-----"), "{e}");
        let e = parse_key(&cert_pem).unwrap_err().to_string();
        assert!(e.contains("no private key"), "{e}");
        let e = parse_certificate(b"hello").unwrap_err().to_string();
        assert!(e.contains("neither PEM"), "{e}");
    }

    #[test]
    fn files_that_cannot_be_read_are_named() {
        let files = CertificateFiles {
            cert: "/nonexistent/cert.pem".into(),
            key: "/nonexistent/key.pem".into(),
        };
        let e = format!("{:#}", load_certificate(&files).unwrap_err());
        assert!(
            e.contains("/nonexistent/cert.pem") && e.contains("--cert"),
            "{e}"
        );
    }

    #[test]
    fn hashes_show_as_hex() {
        let mut hash = ServerCertHash { hash: [0; 32] };
        hash.hash[0] = 0xab;
        hash.hash[31] = 0x01;
        let hex = hash_hex(&hash);
        assert_eq!(hex.len(), 64);
        assert!(hex.starts_with("ab00") && hex.ends_with("0001"), "{hex}");
    }

    fn pem(label: &str, der: &[u8]) -> Vec<u8> {
        use base64::Engine;
        let body = base64::engine::general_purpose::STANDARD.encode(der);
        let lines: Vec<&str> = body
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            lines.join("\n")
        )
        .into_bytes()
    }
}
