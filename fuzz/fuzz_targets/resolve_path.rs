//! `lido::resolve` on arbitrary request paths against a real tree that holds a dotfile, a
//! symlink pointing outside and one pointing inside: a resolved path never leaves the root
//! (nor names a dotfile), whatever the encoding tricks.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use lido::{Policy, resolve};

fn root() -> &'static PathBuf {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let base = std::env::temp_dir().join(format!("lido-fuzz-resolve-{}", std::process::id()));
        let root = base.join("root");
        std::fs::create_dir_all(root.join("dir/sub")).expect("tree");
        std::fs::write(root.join("dir/file.txt"), "x").expect("tree");
        std::fs::write(root.join(".secret"), "x").expect("tree");
        std::fs::write(base.join("outside.txt"), "x").expect("tree");
        #[cfg(unix)]
        {
            let _ = std::os::unix::fs::symlink(base.join("outside.txt"), root.join("out"));
            let _ = std::os::unix::fs::symlink(root.join("dir"), root.join("in"));
        }
        root.canonicalize().expect("canonical root")
    })
}

fuzz_target!(|path: &str| {
    let root = root();
    if let Ok(real) = resolve(root, path, Policy::default()) {
        assert!(real.starts_with(root), "{path:?} -> {}", real.display());
        let hidden = real
            .strip_prefix(root)
            .expect("inside")
            .components()
            .any(|c| c.as_os_str().to_string_lossy().starts_with('.'));
        assert!(!hidden, "{path:?} -> {}", real.display());
    }
});
