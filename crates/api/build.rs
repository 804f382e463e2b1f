//! Compresses what the `openapi`, `reference` and `reference-rapidoc` components serve
//! into `$OUT_DIR` (zlib, RFC 1950: HTTP's `deflate` coding), so each component stays
//! small:
//!
//! - `docs/openapi.json` (written by `cargo xtask gen`, ~300 KB of JSON; a twelfth of
//!   that compressed) into `openapi.json.zz`;
//! - RapiDoc's bundle `target/reference-assets/node_modules/rapidoc/dist/rapidoc-min.js`
//!   (fetched from the npm registry by `scripts/reference-assets.sh`, pinned in
//!   `crates/api/reference/package-lock.json`; ~860 KB, a quarter of that compressed)
//!   into `rapidoc-min.js.zz`, with zopfli (same format, smaller).

use std::path::{Path, PathBuf};

/// Reads `source` (panics with `hint` when it is missing), compresses it with `compress`
/// into `out`.
fn pack(source: &Path, out: &Path, hint: &str, compress: fn(&[u8]) -> Vec<u8>) {
    println!("cargo::rerun-if-changed={}", source.display());
    let bytes =
        std::fs::read(source).unwrap_or_else(|e| panic!("{}: {e} ({hint})", source.display()));
    std::fs::write(out, compress(&bytes)).expect("OUT_DIR is writable");
}

/// miniz_oxide's best level: quick, for a file `cargo xtask gen` rewrites often.
fn miniz(bytes: &[u8]) -> Vec<u8> {
    miniz_oxide::deflate::compress_to_vec_zlib(bytes, 10)
}

/// zopfli with its default options: the same zlib format ~3% smaller than [`miniz`],
/// slower (seconds), for a file that changes only with the pinned package.
fn zopfli(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    zopfli::compress(
        zopfli::Options::default(),
        zopfli::Format::Zlib,
        bytes,
        &mut out,
    )
    .expect("compressing into memory cannot fail");
    out
}

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    pack(
        Path::new("../../docs/openapi.json"),
        &out.join("openapi.json.zz"),
        "run `cargo xtask gen`",
        miniz,
    );
    pack(
        Path::new("../../target/reference-assets/node_modules/rapidoc/dist/rapidoc-min.js"),
        &out.join("rapidoc-min.js.zz"),
        "run `make reference-assets` (scripts/reference-assets.sh: npm ci of crates/api/reference)",
        zopfli,
    );
}
