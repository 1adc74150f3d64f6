//! HTTPS for the binary: the certificate from `--tls-cert`/`--tls-key`, the HSTS header, and
//! the plain-HTTP listener of `--redirect-http` that sends every client to the https URL.

use lido::http::header;
use std::error::Error;

use lido::http::{Method, Request, Response, StatusCode};

use crate::cli::Serve;

/// HSTS max-age that `--security-headers` sends over HTTPS unless `--hsts` says: one year.
const DEFAULT_HSTS: u64 = 365 * 24 * 60 * 60;

/// The certificate and key, if HTTPS was asked for; a bad pair is a one-line error.
pub(crate) fn config(cli: &Serve) -> Result<Option<lido::TlsConfig>, Box<dyn Error>> {
    let (Some(cert), Some(key)) = (&cli.tls_cert, &cli.tls_key) else {
        return Ok(None);
    };
    let tls = lido::TlsConfig::from_pem_files(cert, key).map_err(|e| format!("--tls-cert: {e}"))?;
    Ok(Some(tls))
}

/// The `Strict-Transport-Security` value to send, if any.
pub(crate) fn hsts(cli: &Serve) -> Option<String> {
    cli.tls_cert.as_ref()?;
    let secs = match cli.hsts {
        Some(secs) => secs,
        None if cli.security_headers => DEFAULT_HSTS,
        None => return None,
    };
    Some(format!("max-age={secs}"))
}

/// Answers every request with `308 Permanent Redirect` to the same path over HTTPS on `port`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RedirectHttps {
    pub(crate) port: u16,
}

impl lido::Handler for RedirectHttps {
    fn handle(&self, request: &Request) -> Response {
        let Some(host) = request.header_str(header::HOST).and_then(host_name) else {
            return Response::text(
                StatusCode::BAD_REQUEST,
                "a Host header is needed to redirect to HTTPS\n",
            );
        };
        let port = match self.port {
            443 => String::new(),
            port => format!(":{port}"),
        };
        // The origin-form target as sent (already percent-encoded); anything else (`*`, an
        // absolute URL) goes to the site's root.
        let target = request.target();
        let path = if target.starts_with('/') { target } else { "/" };
        let location = format!("https://{host}{port}{path}");
        let mut response = Response::new(StatusCode::PERMANENT_REDIRECT)
            .with_header(header::LOCATION, location)
            .with_header(header::CACHE_CONTROL, "no-store");
        if request.method() == Method::HEAD {
            response = response.with_header(header::CONTENT_LENGTH, "0");
        }
        response
    }
}

/// The host of a `Host` header without its port, if it is a plausible host name or address
/// (letters, digits, `-`, `.`, or a bracketed IPv6 address): nothing else may reach the
/// `Location` header.
fn host_name(header: &str) -> Option<&str> {
    let host = if header.starts_with('[') {
        &header[..=header.find(']')?]
    } else {
        header.split(':').next()?
    };
    let allowed = |c: char| c.is_ascii_alphanumeric() || "-.[]:".contains(c);
    (!host.is_empty() && host.len() <= 255 && host.chars().all(allowed)).then_some(host)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lido::Handler;

    fn redirect(port: u16, target: &str, host: Option<&str>) -> Response {
        let mut request = Request::new(Method::GET, target).unwrap();
        if let Some(host) = host {
            request = request.with_header("Host", host);
        }
        RedirectHttps { port }.handle(&request)
    }

    #[test]
    fn redirects_to_the_same_path_over_https() {
        let response = redirect(443, "/a/b%20c?x=1", Some("example.com:80"));
        assert_eq!(response.status(), StatusCode::PERMANENT_REDIRECT);
        assert_eq!(
            response.header("location"),
            Some("https://example.com/a/b%20c?x=1")
        );
        let response = redirect(8443, "/", Some("[::1]:8080"));
        assert_eq!(response.header("location"), Some("https://[::1]:8443/"));
    }

    #[test]
    fn refuses_a_missing_or_strange_host() {
        assert_eq!(redirect(443, "/", None).status(), StatusCode::BAD_REQUEST);
        for host in ["", "evil.com/x", "a b", "a\"b", "[::1"] {
            let response = redirect(443, "/", Some(host));
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{host:?}");
        }
    }
}
