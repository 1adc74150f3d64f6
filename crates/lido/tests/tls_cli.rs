//! HTTPS through the binary (filled in below).
fn main() {}
