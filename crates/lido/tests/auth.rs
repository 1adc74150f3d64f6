//! Basic authentication: htpasswd with bcrypt and argon2, 401 with a realm, plain text
//! refused, guessing slowed per address.

mod support;

use base64::Engine as _;
use lido::{BasicAuth, StaticFiles};
use support::{HttpReply, TempTree, TestServer, fetch};

fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

fn htpasswd(tree: &TempTree) -> std::path::PathBuf {
    use argon2::PasswordHasher;
    let bcrypt = bcrypt::hash("open sesame", 4).expect("a bcrypt hash");
    let argon2 = argon2::Argon2::default()
        .hash_password(b"correct horse")
        .expect("an argon2 hash")
        .to_string();
    tree.write(
        "users",
        format!("# staff\nada:{bcrypt}\n\ngrace:{argon2}\n"),
    )
}

fn serve(tree: &TempTree) -> TestServer {
    let auth = BasicAuth::from_htpasswd(htpasswd(tree))
        .expect("the file")
        .realm("staff \"only\"");
    let files = StaticFiles::new(tree.root.join("site")).expect("serve");
    TestServer::start(|b| b, auth.protect(files))
}

fn get(server: &TestServer, fields: &[(&str, &str)]) -> HttpReply {
    fetch(server.addr, "GET", "/secret.txt", fields)
}

#[test]
fn users_of_both_hashes_get_in_and_others_get_a_challenge() {
    let tree = TempTree::new("auth", "in");
    tree.write("site/secret.txt", "the plans");
    let server = serve(&tree);
    let anonymous = get(&server, &[]);
    assert_eq!(anonymous.status, 401);
    assert_eq!(
        anonymous.header("www-authenticate"),
        Some("Basic realm=\"staff only\", charset=\"UTF-8\"")
    );
    for (user, password) in [("ada", "open sesame"), ("grace", "correct horse")] {
        let auth = basic(user, password);
        let reply = get(&server, &[("Authorization", &auth)]);
        assert_eq!(
            (reply.status, reply.body_text().as_str()),
            (200, "the plans"),
            "{user}"
        );
        // Again: remembered, still right.
        assert_eq!(get(&server, &[("Authorization", &auth)]).status, 200);
    }
    for (user, password) in [("ada", "wrong"), ("nobody", "open sesame"), ("grace", "")] {
        let auth = basic(user, password);
        assert_eq!(
            get(&server, &[("Authorization", &auth)]).status,
            401,
            "{user}"
        );
    }
    // Another server: the three failures above count against this address (five are free).
    let server = serve(&tree);
    for garbage in ["Basic !!!", "Bearer abc", "Basic", &basic("", "")] {
        assert_eq!(
            get(&server, &[("Authorization", garbage)]).status,
            401,
            "{garbage}"
        );
    }
}

#[test]
fn guessing_is_slowed_per_address() {
    let tree = TempTree::new("auth", "slow");
    tree.write("site/secret.txt", "the plans");
    let server = serve(&tree);
    let wrong = basic("ada", "guess");
    for i in 0..lido::FREE_FAILURES {
        assert_eq!(
            get(&server, &[("Authorization", &wrong)]).status,
            401,
            "attempt {i}"
        );
    }
    // Blocked now, even with the right password, and told for how long.
    let right = basic("ada", "open sesame");
    let blocked = get(&server, &[("Authorization", &right)]);
    assert_eq!(blocked.status, 429);
    let wait: u64 = blocked
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((1..=60).contains(&wait), "{wait}");
}

#[test]
fn weak_or_broken_files_are_refused_with_the_line() {
    let tree = TempTree::new("auth", "files");
    for (text, line, what) in [
        ("ada:plaintext\n", 1, "only bcrypt"),
        ("# ok\nada:$apr1$abc$def\n", 2, "only bcrypt"),
        ("ada:{SHA}abc=\n", 1, "only bcrypt"),
        ("just-a-name\n", 1, "expected user:hash"),
        (":$2y$04$abc\n", 1, "user name is empty"),
    ] {
        let path = tree.write("bad", text);
        let err = BasicAuth::from_htpasswd(&path).expect_err(text).to_string();
        assert!(
            err.contains(&format!(":{line}: ")) && err.contains(what),
            "{err}"
        );
    }
    let empty = tree.write("empty", "# nobody\n");
    assert!(BasicAuth::from_htpasswd(&empty).is_err());
    assert!(BasicAuth::from_htpasswd(tree.root.join("missing")).is_err());
}
