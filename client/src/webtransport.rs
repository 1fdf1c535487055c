//! What a browser needs to open WebTransport to the server, from the login answer: the
//! destination, named as the connect token names the server, and the certificate hash
//! to check. The socket itself is renet2's (WebAssembly only); these parts are pure, so
//! they are tested natively.

use std::net::SocketAddr;

use bevy_replicon_renet2::netcode::{ConnectToken, ServerCertHash, WebServerDestination};

/// The destination for `address` (`https://host:port`) that matches the server address
/// in `token`: renet2 refuses to send anywhere else. A server at an IP address is that
/// address; one at a host name (`--webtransport-url`) is named by renet2's hash of the
/// URL, as the server named it.
pub fn destination(address: &str, token: &ConnectToken) -> Result<WebServerDestination, String> {
    let url = url::Url::parse(address)
        .map_err(|e| format!("`{address}` is not a WebTransport URL: {e}"))?;
    if url.scheme() != "https" {
        return Err(format!("`{address}` is not an https:// URL"));
    }
    let port = url
        .port()
        .ok_or_else(|| format!("`{address}` names no port"))?;
    let expected =
        token.server_addresses[0].ok_or_else(|| "the connect token names no server".to_string())?;
    let by_ip = match url.host() {
        Some(url::Host::Ipv4(ip)) => Some(SocketAddr::new(ip.into(), port)),
        Some(url::Host::Ipv6(ip)) => Some(SocketAddr::new(ip.into(), port)),
        _ => None,
    };
    if by_ip == Some(expected) {
        return Ok(WebServerDestination::Addr(expected));
    }
    let by_url = WebServerDestination::Url(url);
    if SocketAddr::from(by_url.clone()) == expected {
        return Ok(by_url);
    }
    Err(format!(
        "the connect token is not for `{address}` (the server's --webtransport-url and its \
         tokens disagree)"
    ))
}

/// A certificate hash as the login answer gives it: 64 hex digits.
pub fn cert_hash(hex: &str) -> Result<ServerCertHash, String> {
    let bad = || format!("`{hex}` is not a SHA-256 certificate hash (64 hex digits)");
    if hex.len() != 64 || !hex.is_ascii() {
        return Err(bad());
    }
    let mut hash = [0u8; 32];
    for (i, byte) in hash.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(ServerCertHash { hash })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token_for(addr: SocketAddr) -> ConnectToken {
        ConnectToken::generate(
            std::time::Duration::from_secs(1_000),
            1,
            30,
            7,
            10,
            0,
            vec![addr],
            None,
            &[0; 32],
        )
        .unwrap()
    }

    #[test]
    fn an_ip_url_is_the_address_the_token_names() {
        let addr: SocketAddr = "127.0.0.1:8443".parse().unwrap();
        let dest = destination("https://127.0.0.1:8443/", &token_for(addr)).unwrap();
        assert!(matches!(dest, WebServerDestination::Addr(a) if a == addr));
        let v6: SocketAddr = "[::1]:8443".parse().unwrap();
        let dest = destination("https://[::1]:8443", &token_for(v6)).unwrap();
        assert!(matches!(dest, WebServerDestination::Addr(a) if a == v6));
    }

    #[test]
    fn a_host_name_is_the_hash_the_server_made_of_it() {
        let url = url::Url::parse("https://play.example.com:4433").unwrap();
        let hashed = SocketAddr::from(WebServerDestination::Url(url.clone()));
        let dest = destination(url.as_str(), &token_for(hashed)).unwrap();
        assert!(matches!(dest, WebServerDestination::Url(u) if u == url));
    }

    #[test]
    fn a_token_for_elsewhere_or_a_bad_url_is_refused() {
        let addr: SocketAddr = "127.0.0.1:8443".parse().unwrap();
        let token = token_for(addr);
        for (bad, says) in [
            ("https://127.0.0.1:9999", "not for"),
            ("https://play.example.com:8443", "not for"),
            ("http://127.0.0.1:8443", "https://"),
            ("https://127.0.0.1", "no port"),
            ("nonsense", "not a WebTransport URL"),
        ] {
            let e = destination(bad, &token).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn cert_hashes_are_64_hex_digits() {
        let hex = format!("ab{}01", "00".repeat(30));
        let hash = cert_hash(&hex).unwrap();
        assert_eq!(hash.hash[0], 0xab);
        assert_eq!(hash.hash[31], 0x01);
        assert_eq!(cert_hash(&hex.to_uppercase()).unwrap().hash, hash.hash);
        for bad in ["", "abc", &"zz".repeat(32), &"é".repeat(32)] {
            assert!(
                cert_hash(bad).unwrap_err().contains("64 hex digits"),
                "{bad}"
            );
        }
    }
}
