//! Compresses `docs/openapi.json` (written by `cargo xtask gen`) into
//! `$OUT_DIR/openapi.json.zz` (zlib, RFC 1950: HTTP's `deflate` coding), which the
//! `openapi` component serves: the description is ~190 KB of JSON and every component
//! must stay small; compressed it is a tenth of that.

fn main() {
    let source = std::path::Path::new("../../docs/openapi.json");
    println!("cargo::rerun-if-changed={}", source.display());
    let json = std::fs::read(source)
        .unwrap_or_else(|e| panic!("{}: {e} (run `cargo xtask gen`)", source.display()));
    let packed = miniz_oxide::deflate::compress_to_vec_zlib(&json, 10);
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("openapi.json.zz"), packed).expect("OUT_DIR is writable");
}
