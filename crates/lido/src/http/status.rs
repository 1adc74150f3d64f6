//! Status codes: the `http` crate's [`StatusCode`], and what lido needs besides (RFC 9110's
//! reason phrases, which responses have no body).

pub use ::http::StatusCode;

/// The reason phrase lido writes for `status` (RFC 9110's wording: `413 Content Too Large`,
/// `422 Unprocessable Content`); the `http` crate's for codes not listed; empty for unknown
/// codes.
pub(crate) fn reason(status: StatusCode) -> &'static str {
    match status.as_u16() {
        100 => "Continue",
        101 => "Switching Protocols",
        103 => "Early Hints",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        205 => "Reset Content",
        206 => "Partial Content",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        418 => "I'm a teapot",
        421 => "Misdirected Request",
        422 => "Unprocessable Content",
        426 => "Upgrade Required",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        451 => "Unavailable For Legal Reasons",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => status.canonical_reason().unwrap_or(""),
    }
}

/// `1xx`, `204` and `304` responses have no body and no `Content-Length` of a body.
pub(crate) fn is_bodiless(status: StatusCode) -> bool {
    status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_follow_rfc_9110() {
        assert_eq!(reason(StatusCode::PAYLOAD_TOO_LARGE), "Content Too Large");
        assert_eq!(reason(StatusCode::NOT_FOUND), "Not Found");
        assert_eq!(reason(StatusCode::from_u16(599).unwrap()), "");
        assert!(is_bodiless(StatusCode::NOT_MODIFIED));
        assert!(!is_bodiless(StatusCode::OK));
    }
}
