//! Component size: the optional post-build `wasm-opt` step and the size check.
//!
//! - `cargo xtask shrink` (the last step of `make build`): for every built component
//!   (`target/wasm32-wasip2/release/<id>.wasm`), takes its core module (the largest
//!   core-module section of the component binary), runs binaryen's `wasm-opt -Oz` on it
//!   and writes the component back with that section replaced and its `component-name`
//!   custom section (names for debuggers, ~9 KB) left out. Everything else of the
//!   component (its type, imports, exports, the small adapter modules) is kept byte for
//!   byte, and the core module keeps its imports and exports, so the component's
//!   interface is unchanged. The file is rewritten in place, so cargo's `deps/` copy
//!   (hard-linked) is shrunk too and a fresh `cargo build` keeps it. A `<id>.wasm.shrunk` stamp (size and modification time of
//!   the result) skips components already shrunk, so a rebuild that changed nothing costs
//!   nothing. Without `wasm-opt` on `PATH` it says so and changes nothing (the components
//!   then stay as cargo built them, e.g. after `spin build`).
//! - `cargo xtask sizes [--max BYTES]` (`make sizes`): prints every component's bytes;
//!   with `--max`, exits 1 when one is larger (issue 16's limit is 400 KB: `make sizes` passes 400,000, the benchmark's
//!   `report::MAX_COMPONENT_BYTES`).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// binaryen's optimizer.
const WASM_OPT: &str = "wasm-opt";

/// The wasm features rustc's wasm32-wasip2 target emits (Rust 1.95's defaults), which
/// `wasm-opt` must be told it may keep.
const FEATURES: &[&str] = &[
    "--enable-bulk-memory",
    "--enable-sign-ext",
    "--enable-mutable-globals",
    "--enable-nontrapping-float-to-int",
    "--enable-multivalue",
    "--enable-reference-types",
];

/// A component binary's section id for an embedded core module.
const CORE_MODULE_SECTION: u8 = 1;

/// The section id of a custom section (in a component as in a core module).
const CUSTOM_SECTION: u8 = 0;

/// The custom section naming a component's own items (its instances, aliases, lowered
/// and lifted functions) for debuggers and disassemblers, as the core module's `name`
/// section does the functions (which `strip = true` already drops). No runtime reads it
/// (the Component Model's binary format: custom sections carry no semantics); ~9 KB
/// in every Roster component.
const COMPONENT_NAME_SECTION: &str = "component-name";

/// Whether the custom section `payload` (its name, then its contents) is named `name`.
fn is_named(payload: &[u8], name: &str) -> bool {
    let mut at = 0;
    leb(payload, &mut at)
        .and_then(|len| payload.get(at..at.checked_add(len)?))
        .is_some_and(|n| n == name.as_bytes())
}

fn wasm_dir(root: &Path) -> PathBuf {
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let target = if target.is_absolute() {
        target
    } else {
        root.join(target)
    };
    target.join("wasm32-wasip2").join("release")
}

fn wasm_path(root: &Path, id: &str) -> PathBuf {
    wasm_dir(root).join(format!("{}.wasm", id.replace('-', "_")))
}

/// Reads an unsigned LEB128 at `*at`, advancing it.
fn leb(bytes: &[u8], at: &mut usize) -> Option<usize> {
    let (mut value, mut shift) = (0usize, 0u32);
    loop {
        let b = *bytes.get(*at)?;
        *at += 1;
        value |= usize::from(b & 0x7f).checked_shl(shift)?;
        if b & 0x80 == 0 {
            return Some(value);
        }
        shift += 7;
    }
}

fn push_leb(out: &mut Vec<u8>, mut value: usize) {
    loop {
        let b = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

/// A binary's top-level sections: `(id, payload range)`, after the 8-byte header.
fn sections(bytes: &[u8]) -> Option<Vec<(u8, std::ops::Range<usize>)>> {
    let mut at = 8;
    let mut out = Vec::new();
    while at < bytes.len() {
        let id = bytes[at];
        at += 1;
        let len = leb(bytes, &mut at)?;
        let end = at.checked_add(len).filter(|e| *e <= bytes.len())?;
        out.push((id, at..end));
        at = end;
    }
    Some(out)
}

/// Whether `bytes` is a component (not a core module): the `\0asm` magic, then a
/// version whose layer field is 1.
fn is_component(bytes: &[u8]) -> bool {
    bytes.len() >= 8 && bytes[..4] == *b"\0asm" && bytes[6..8] == [1, 0]
}

/// `component` with its largest core module replaced by `wasm-opt -Oz` of it and its
/// `component-name` custom section left out ([`COMPONENT_NAME_SECTION`]); `None` when
/// the binary is not a component with a core module.
fn shrink_component(component: &[u8], scratch: &Path) -> Result<Option<Vec<u8>>, String> {
    if !is_component(component) {
        return Ok(None);
    }
    let secs = sections(component).ok_or("a section runs past the end of the file")?;
    let Some(main) = secs
        .iter()
        .filter(|(id, _)| *id == CORE_MODULE_SECTION)
        .max_by_key(|(_, r)| r.len())
        .map(|(_, r)| r.clone())
    else {
        return Ok(None);
    };
    let input = scratch.with_extension("core.wasm");
    let output = scratch.with_extension("core.opt.wasm");
    std::fs::write(&input, &component[main.clone()]).map_err(|e| e.to_string())?;
    let status = Command::new(WASM_OPT)
        .arg("-Oz")
        .args(FEATURES)
        .arg(&input)
        .arg("-o")
        .arg(&output)
        .status()
        .map_err(|e| format!("cannot run {WASM_OPT}: {e}"))?;
    let optimized = std::fs::read(&output).map_err(|e| e.to_string());
    let _ = std::fs::remove_file(&input);
    let _ = std::fs::remove_file(&output);
    if !status.success() {
        return Err(format!("{WASM_OPT} failed ({status})"));
    }
    let optimized = optimized?;
    let mut out = component[..8].to_vec();
    for (id, range) in &secs {
        if *id == CUSTOM_SECTION && is_named(&component[range.clone()], COMPONENT_NAME_SECTION) {
            continue;
        }
        let payload = if *range == main {
            &optimized[..]
        } else {
            &component[range.clone()]
        };
        out.push(*id);
        push_leb(&mut out, payload.len());
        out.extend_from_slice(payload);
    }
    Ok(Some(out))
}

/// What the stamp of a shrunk file says: its length and modification time.
fn stamp_of(path: &Path) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    let mtime = meta
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    Some(format!("{} {}", meta.len(), mtime.as_nanos()))
}

fn stamp_path(path: &Path) -> PathBuf {
    path.with_extension("wasm.shrunk")
}

fn shrink_one(path: &Path) -> Result<Option<(u64, u64)>, String> {
    let stamp = stamp_path(path);
    if stamp_of(path).is_some_and(|s| std::fs::read_to_string(&stamp).ok() == Some(s)) {
        return Ok(None);
    }
    let before = std::fs::read(path).map_err(|e| e.to_string())?;
    let Some(after) = shrink_component(&before, &path.with_extension("shrinking"))? else {
        return Err("not a component with a core module".into());
    };
    if after.len() < before.len() {
        // In place, not by rename: cargo hard-links `<id>.wasm` to `deps/<id>.wasm` and
        // links it again on every build, so both names must hold the shrunk bytes (a
        // fresh build then keeps them, and the stamp still matches).
        std::fs::write(path, &after).map_err(|e| e.to_string())?;
        if let Some(name) = path.file_name() {
            let deps = path.with_file_name("deps").join(name);
            if std::fs::metadata(&deps).is_ok_and(|m| m.len() != after.len() as u64) {
                std::fs::write(&deps, &after).map_err(|e| e.to_string())?;
            }
        }
    }
    if let Some(s) = stamp_of(path) {
        std::fs::write(&stamp, s).map_err(|e| e.to_string())?;
    }
    Ok(Some((
        before.len() as u64,
        after.len().min(before.len()) as u64,
    )))
}

/// `cargo xtask shrink`: see the module docs. Fails only when `wasm-opt` is installed and
/// fails on a component.
pub fn shrink(root: &Path, ids: &[String]) -> ExitCode {
    if Command::new(WASM_OPT).arg("--version").output().is_err() {
        eprintln!(
            "xtask shrink: no {WASM_OPT} on PATH (Debian: apt-get install binaryen; `make \
             binaryen`): components left as cargo built them"
        );
        return ExitCode::SUCCESS;
    }
    let paths: Vec<PathBuf> = ids
        .iter()
        .map(|id| wasm_path(root, id))
        .filter(|p| p.is_file())
        .collect();
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failed = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                while let Some(path) =
                    paths.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
                {
                    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
                    let name = name.unwrap_or_default();
                    match shrink_one(path) {
                        Ok(Some((before, after))) => {
                            println!("shrink: {name}: {before} -> {after} bytes")
                        }
                        Ok(None) => {}
                        Err(e) => {
                            eprintln!("xtask shrink: {name}: {e}");
                            failed.store(true, std::sync::atomic::Ordering::Relaxed);
                        }
                    }
                }
            });
        }
    });
    if failed.into_inner() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// `cargo xtask sizes [--max BYTES]`: see the module docs. A route's component that is
/// not built is an error (run `make build`); the benchmark's empty one is listed when built.
pub fn sizes(root: &Path, ids: &[String], max: Option<u64>) -> ExitCode {
    let mut over = Vec::new();
    let mut missing = Vec::new();
    for id in ids {
        let path = wasm_path(root, id);
        let Ok(meta) = std::fs::metadata(&path) else {
            if id != crate::BENCH_EMPTY {
                missing.push(id.as_str());
            }
            continue;
        };
        let bytes = meta.len();
        let flag = match max {
            Some(max) if bytes > max => {
                over.push(format!("{id} ({bytes})"));
                "  OVER"
            }
            _ => "",
        };
        println!("{id:<32} {bytes:>8} bytes {:>5} KiB{flag}", bytes / 1024);
    }
    if !missing.is_empty() {
        eprintln!(
            "xtask sizes: not built (make build): {}",
            missing.join(", ")
        );
        return ExitCode::FAILURE;
    }
    match max {
        Some(max) if !over.is_empty() => {
            eprintln!(
                "xtask sizes: {} component(s) over {max} bytes: {}",
                over.len(),
                over.join(", ")
            );
            ExitCode::FAILURE
        }
        _ => ExitCode::SUCCESS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leb_round_trips_and_sections_are_found() {
        for v in [0usize, 1, 127, 128, 300, 1 << 20, 794_049] {
            let mut buf = Vec::new();
            push_leb(&mut buf, v);
            let mut at = 0;
            assert_eq!(leb(&buf, &mut at), Some(v));
            assert_eq!(at, buf.len());
        }
        // A component header, a core module section of 3 bytes, a custom section of 1.
        let bin = [0, b'a', b's', b'm', 0x0d, 0, 1, 0, 1, 3, 7, 8, 9, 0, 1, 5];
        assert!(is_component(&bin));
        assert_eq!(sections(&bin), Some(vec![(1, 10..13), (0, 15..16)]));
        // A section claiming more bytes than the file has.
        assert_eq!(sections(&bin[..12]), None);
        // A core module is not a component.
        assert!(!is_component(&[0, b'a', b's', b'm', 1, 0, 0, 0]));
    }

    #[test]
    fn custom_sections_are_told_apart_by_name() {
        let mut named = vec![14];
        named.extend_from_slice(b"component-name");
        named.extend_from_slice(&[1, 2, 3]);
        assert!(is_named(&named, COMPONENT_NAME_SECTION));
        let mut other = vec![9];
        other.extend_from_slice(b"producers");
        assert!(!is_named(&other, COMPONENT_NAME_SECTION));
        // A prefix of the name, and a name running past the section, are not it.
        assert!(!is_named(&named[..10], COMPONENT_NAME_SECTION));
        assert!(!is_named(&[14, b'c'], COMPONENT_NAME_SECTION));
        assert!(!is_named(&[], COMPONENT_NAME_SECTION));
    }
}
