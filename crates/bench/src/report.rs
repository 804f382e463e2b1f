//! The report: Markdown tables of every measurement, the scaling across sizes, and the
//! design's targets, each marked met, missed, or not measurable in this run.

use crate::scenarios::Kind;
use crate::{Measured, Report, ScenarioOutcome, SizeReport, size_label};
use std::fmt::Write as _;

/// Largest acceptable `.wasm`, bytes: issue 16's 400 KB, in decimal kilobytes.
pub const MAX_COMPONENT_BYTES: u64 = 400_000;
/// Get user through the host: at most this times the empty component's request (p50,
/// one client; issue 16).
pub const MAX_GET_OVER_EMPTY: f64 = 1.3;
/// The 401 floor (a request without a token) through the host: at most this times the
/// empty component's request (p50, one client; issue 16).
pub const MAX_UNAUTHORIZED_OVER_EMPTY: f64 = 1.1;
/// Get user with the `default` store on disk: at most this times the same get with the
/// store on tmpfs (throughput, same rounds; issue 16).
pub const MAX_DISK_OVER_TMPFS: f64 = 1.2;
/// Get, count and a list page: the largest size at most this times the smallest.
pub const MAX_FLAT_GROWTH: f64 = 1.2;

/// One target of the benchmark (issue 16's figures), as the report's "Targets" section
/// lists it.
#[derive(Debug, Clone)]
pub struct Target {
    /// What is promised, with its threshold.
    pub name: String,
    /// Met, missed, or `None` when this run cannot tell (not measured).
    pub met: Option<bool>,
    /// The figures behind the verdict, and the reason when missed or not measured.
    pub detail: String,
}

/// Milliseconds, with precision that suits the magnitude.
pub fn ms(v: f64) -> String {
    if v.is_nan() {
        "–".to_owned()
    } else if v < 1.0 {
        format!("{v:.3}")
    } else if v < 10.0 {
        format!("{v:.2}")
    } else if v < 1000.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.0}")
    }
}

fn ratio(a: f64, b: f64) -> String {
    if a.is_nan() || b.is_nan() || b == 0.0 {
        "–".to_owned()
    } else {
        format!("{:.2}", a / b)
    }
}

fn rate(v: f64) -> String {
    if v.is_nan() {
        "–".to_owned()
    } else if v < 10.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.0}")
    }
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or_else(
        || "unknown".to_owned(),
        |k| format!("{:.0} MiB", k as f64 / 1024.0),
    )
}

fn flag(m: &Measured) -> String {
    let mut notes = Vec::new();
    if let Some(e) = &m.probe_error {
        notes.push(format!("probe: {e}"));
    }
    let errors = m.single.errors + m.loaded.errors;
    if errors > 0 {
        let first = m
            .single
            .first_error
            .as_deref()
            .or(m.loaded.first_error.as_deref())
            .unwrap_or("?");
        notes.push(format!("{errors} errors, first: {first}"));
    }
    if notes.is_empty() {
        String::new()
    } else {
        let mut s = notes.join("; ");
        if s.len() > 160 {
            let mut cut = 160;
            while !s.is_char_boundary(cut) {
                cut -= 1;
            }
            s.truncate(cut);
            s.push('…');
        }
        format!(" ⚠ {}", s.replace('|', "\\|"))
    }
}

/// The service time of a measurement: p50 with one client (the loaded p50 when no
/// request of the one-client phase fitted in the budget).
pub fn p50(m: &Measured) -> f64 {
    if m.single.n() > 0 {
        m.single.p50_ms()
    } else {
        m.loaded.p50_ms()
    }
}

fn measured_cells(m: &Measured) -> String {
    let kv = if m.probe_requests > 1 {
        format!("{} in {} requests", m.kv_calls, m.probe_requests)
    } else {
        m.kv_calls.to_string()
    };
    format!(
        "{} / {} | {} | {} | {} | {} | {} | {}",
        m.single.n(),
        m.loaded.n(),
        ms(m.single.p50_ms()),
        ms(m.single.p99_ms()),
        ms(m.loaded.p50_ms()),
        ms(m.loaded.p99_ms()),
        rate(m.loaded.throughput()),
        kv
    )
}

fn size_section(out: &mut String, s: &SizeReport, concurrency: usize) {
    let label = size_label(s.users);
    let _ = writeln!(out, "\n### {label} users in the organization\n");
    let _ = writeln!(
        out,
        "Seeded {} users, {} devices, {} enrollment tokens ({} rows, {:.0} MiB file) in \
         {:.1} s with {} threads.  ",
        s.seed.users,
        s.seed.devices,
        s.seed.tokens,
        s.seed.rows,
        s.seed.file_bytes as f64 / (1024.0 * 1024.0),
        s.seed.seconds,
        s.seed.threads
    );
    match &s.host_memory {
        Some(m) => {
            let _ = writeln!(
                out,
                "roster-host alone (its own process on this store; {} clients through the \
                 empty component, 401, get, list, count and create, {} requests, {} failed): \
                 RSS {} once started, peak {}.  ",
                concurrency,
                m.requests,
                m.errors,
                mib(m.idle_kib),
                mib(m.peak_kib)
            );
        }
        None => {
            let _ = writeln!(
                out,
                "roster-host alone: not measured (no roster-host binary).  "
            );
        }
    }
    let _ = writeln!(
        out,
        "The benchmark process (host, clients and native runs together): RSS {} when the \
         host started, peak {} while measuring this size.\n",
        mib(s.rss_before_kib),
        mib(s.peak_rss_kib)
    );
    let c = concurrency;
    let _ = writeln!(
        out,
        "| scenario | mode | n (1 / {c}) | p50 ms, 1 client | p99 ms, 1 client | p50 ms, {c} clients | p99 ms, {c} clients | req/s, {c} clients | kv calls | (a)/(b) p50 | (a)/(c) p50 |"
    );
    let _ = writeln!(out, "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
    let _ = writeln!(
        out,
        "| empty component, alone | (c) host | {} | | |{}",
        measured_cells(&s.empty),
        flag(&s.empty)
    );
    for row in &s.rows {
        match &row.outcome {
            ScenarioOutcome::Ran {
                host,
                native,
                empty,
            } => {
                let a = p50(host);
                let _ = writeln!(
                    out,
                    "| {} | (a) host | {} | {} | {} |{}",
                    row.scenario.title,
                    measured_cells(host),
                    ratio(a, p50(native)),
                    ratio(a, p50(empty)),
                    flag(host)
                );
                let _ = writeln!(
                    out,
                    "| | (b) native | {} | | |{}",
                    measured_cells(native),
                    flag(native)
                );
                let _ = writeln!(
                    out,
                    "| | (c) empty | {} | | |{}",
                    measured_cells(empty),
                    flag(empty)
                );
            }
        }
    }
}

/// (a)'s p50 over (c)'s, both from the same interleaved rounds: the cost in units of
/// the platform's own request. Dividing by (c) cancels a change of the machine's speed
/// between sizes (other work on its cores); it does not cancel the disk's.
fn relative(s: &SizeReport, kind: Kind) -> Option<f64> {
    let a = p50_of(s, kind)?;
    let c = p50(s.empty_with(kind)?);
    (c > 0.0).then(|| a / c)
}

/// The largest growth from the first value to any later one.
fn growth(values: &[Option<f64>]) -> Option<f64> {
    let first = (*values.first()?)?;
    values[1..]
        .iter()
        .map(|v| v.map(|v| v / first))
        .try_fold(None::<f64>, |acc, g| {
            g.map(|g| Some(acc.map_or(g, |a| a.max(g))))
        })
        .flatten()
}

fn scaling_section(out: &mut String, r: &Report) {
    if r.sizes.len() < 2 {
        return;
    }
    let _ = writeln!(
        out,
        "\n### How cost grows with users per organization (through the host, (a), p50 with one client)\n"
    );
    let _ = writeln!(
        out,
        "÷(c): over the empty component's p50 in the same rounds. Growth: the largest \
         size-to-smallest ratio.\n"
    );
    let mut head = "| scenario |".to_owned();
    let mut rule = "|---|".to_owned();
    for s in &r.sizes {
        let l = size_label(s.users);
        let _ = write!(head, " p50 ms {l} | ÷(c) {l} | kv {l} |");
        rule.push_str("--:|--:|--:|");
    }
    head.push_str(" growth | growth ÷(c) |");
    rule.push_str("--:|--:|");
    let _ = writeln!(out, "{head}\n{rule}");
    let first = &r.sizes[0];
    for row in &first.rows {
        let kind = row.scenario.kind;
        let mut line = format!("| {} |", row.scenario.title);
        let (mut raw, mut rel) = (Vec::new(), Vec::new());
        for s in &r.sizes {
            match s.ran(kind) {
                Some((host, _)) => {
                    let x = relative(s, kind);
                    let _ = write!(
                        line,
                        " {} | {} | {} |",
                        ms(p50(host)),
                        x.map_or_else(|| "–".to_owned(), |x| format!("{x:.2}")),
                        host.kv_calls
                    );
                    raw.push(p50_of(s, kind));
                    rel.push(x);
                }
                None => {
                    line.push_str(" – | – | – |");
                    raw.push(None);
                    rel.push(None);
                }
            }
        }
        let show = |g: Option<f64>| g.map_or_else(|| "–".to_owned(), |g| format!("{g:.2}"));
        let _ = writeln!(
            out,
            "{line} {} | {} |",
            show(growth(&raw)),
            show(growth(&rel))
        );
    }
}

fn p50_of(s: &SizeReport, kind: Kind) -> Option<f64> {
    s.ran(kind).filter(|(h, _)| h.clean()).map(|(h, _)| p50(h))
}

fn flat(r: &Report, kind: Kind, name: &str) -> Target {
    let name = format!(
        "{name} flat from the smallest size to every larger one (p50 through the host, one \
         client, over the empty component's in the same rounds, grows ≤ {MAX_FLAT_GROWTH}x; \
         the same kv calls)"
    );
    if r.sizes.len() < 2 {
        return Target {
            name,
            met: None,
            detail: "fewer than two sizes".into(),
        };
    }
    let raw: Vec<Option<f64>> = r.sizes.iter().map(|s| p50_of(s, kind)).collect();
    let rel: Vec<Option<f64>> = r.sizes.iter().map(|s| relative(s, kind)).collect();
    let kv: Vec<Option<u64>> = r
        .sizes
        .iter()
        .map(|s| s.ran(kind).map(|(h, _)| h.kv_calls))
        .collect();
    let same_kv = kv.iter().all(|k| k.is_some() && *k == kv[0]);
    let detail = r
        .sizes
        .iter()
        .zip(raw.iter().zip(rel.iter().zip(&kv)))
        .map(|(s, (a, (x, k)))| {
            format!(
                "{}: {} ms, {} × (c), {} kv calls",
                size_label(s.users),
                a.map_or_else(|| "–".to_owned(), ms),
                x.map_or_else(|| "–".to_owned(), |x| format!("{x:.2}")),
                k.map_or_else(|| "–".to_owned(), |k| k.to_string())
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    match (growth(&rel), growth(&raw)) {
        (Some(g), Some(graw)) => Target {
            name,
            met: Some(g <= MAX_FLAT_GROWTH && same_kv),
            detail: format!("{detail} — growth {g:.2}x over (c), {graw:.2}x raw"),
        },
        _ => Target {
            name,
            met: None,
            detail: format!("{detail} — not measured cleanly at every size"),
        },
    }
}

/// Every target the report judges, in the order it lists them: one function per figure,
/// each reading what it needs from the [`Report`] and returning a [`Target`] (met,
/// missed with the figures that miss, or not measured with the reason). To add a
/// figure, write a `fn(&Report) -> Target` and list it here; [`targets`] and the
/// report's "Targets" section pick it up.
pub const TARGETS: &[fn(&Report) -> Target] = &[
    no_durable_write_on_read,
    disk_over_tmpfs,
    get_over_empty,
    unauthorized_over_empty,
    get_flat,
    count_flat,
    list_flat,
    crate::search_report::search_time,
    crate::search_report::search_reads_index,
    peer_ratio,
    component_sizes,
];

/// Evaluates every target of [`TARGETS`] on a report.
pub fn targets(r: &Report) -> Vec<Target> {
    TARGETS.iter().map(|t| t(r)).collect()
}

/// Reads make no durable write to the default store: the probe of every read scenario
/// (one request alone, through the host) wrote nothing to `default` (roster-host's
/// per-label counts). A call count, so the smoke test asserts it.
pub fn no_durable_write_on_read(r: &Report) -> Target {
    let name = "reads make no durable write to the default store (writes to `default` by \
                one request of each read scenario, through the host)"
        .to_owned();
    let mut details = Vec::new();
    let mut met = None;
    for s in &r.sizes {
        for row in &s.rows {
            if !crate::is_read(row.scenario.kind) {
                continue;
            }
            let ScenarioOutcome::Ran { host, .. } = &row.outcome;
            if let Some(w) = host.default_writes {
                met = Some(met.unwrap_or(true) && w == 0);
                if w > 0 {
                    details.push(format!(
                        "{} at {}: {w} writes",
                        row.scenario.id,
                        size_label(s.users)
                    ));
                }
            }
        }
    }
    Target {
        name,
        met,
        detail: match met {
            None => "no read scenario ran".to_owned(),
            Some(true) => "0 writes for every read scenario at every size (the rate-limit \
                           counter goes to the `ratelimit` store)"
                .to_owned(),
            Some(false) => details.join("; "),
        },
    }
}

/// With the store on disk, a get is within [`MAX_DISK_OVER_TMPFS`] of the same get with
/// the store on tmpfs (throughput ratio, [`crate::DiskVsTmpfs`], smallest size).
pub fn disk_over_tmpfs(r: &Report) -> Target {
    let name = format!(
        "get user with the store on disk ≤ {MAX_DISK_OVER_TMPFS}x the same get on tmpfs \
         (throughput, same rounds)"
    );
    let Some((s, d)) = r
        .sizes
        .iter()
        .find_map(|s| s.disk_vs_tmpfs.as_ref().map(|d| (s, d)))
    else {
        return Target {
            name,
            met: None,
            detail: "not measured (no get scenario, or no /dev/shm)".to_owned(),
        };
    };
    let (disk, tmpfs) = (d.disk.throughput(), d.tmpfs.throughput());
    let errors = d.disk.errors + d.tmpfs.errors;
    let x = tmpfs / disk;
    let detail = format!(
        "{}, {} clients: {} req/s on disk, {} on tmpfs = {} (p50 {} / {} ms){}",
        size_label(s.users),
        d.concurrency,
        rate(disk),
        rate(tmpfs),
        ratio(tmpfs, disk),
        ms(d.disk.p50_ms()),
        ms(d.tmpfs.p50_ms()),
        if errors > 0 {
            format!("; {errors} failed requests")
        } else {
            String::new()
        }
    );
    Target {
        name,
        met: (errors == 0 && x.is_finite()).then_some(x <= MAX_DISK_OVER_TMPFS),
        detail,
    }
}

/// `kind` through the host over the empty component's request measured in the same
/// rounds (p50, one client), at every size, against `max`.
fn over_empty(r: &Report, kind: Kind, what: &str, max: f64) -> Target {
    let mut details = Vec::new();
    let mut met = Some(true);
    for s in &r.sizes {
        let empty = s.empty_with(kind).unwrap_or(&s.empty);
        let c = p50(empty);
        match (p50_of(s, kind), s.ran(kind)) {
            (Some(a), Some((host, _))) if empty.clean() => {
                let x = a / c;
                if x > max {
                    met = Some(false);
                }
                details.push(format!(
                    "{}: {} / {} ms = {x:.2}x (throughput {} / {} req/s = {}x the cost)",
                    size_label(s.users),
                    ms(a),
                    ms(c),
                    rate(host.loaded.throughput()),
                    rate(empty.loaded.throughput()),
                    ratio(empty.loaded.throughput(), host.loaded.throughput()),
                ));
            }
            _ => {
                met = met.and(None);
                details.push(format!("{}: not measured", size_label(s.users)));
            }
        }
    }
    Target {
        name: format!("{what} through the host ≤ {max}x the empty component (p50, one client)"),
        met: if r.sizes.is_empty() { None } else { met },
        detail: details.join("; "),
    }
}

/// Get user ≤ [`MAX_GET_OVER_EMPTY`] × the empty component.
pub fn get_over_empty(r: &Report) -> Target {
    over_empty(r, Kind::GetUser, "get user", MAX_GET_OVER_EMPTY)
}

/// The 401 floor ≤ [`MAX_UNAUTHORIZED_OVER_EMPTY`] × the empty component.
pub fn unauthorized_over_empty(r: &Report) -> Target {
    over_empty(
        r,
        Kind::NoToken,
        "401 (no token)",
        MAX_UNAUTHORIZED_OVER_EMPTY,
    )
}

/// Get user flat across sizes.
pub fn get_flat(r: &Report) -> Target {
    flat(r, Kind::GetUser, "get user")
}

/// Count flat across sizes.
pub fn count_flat(r: &Report) -> Target {
    flat(r, Kind::Count, "count")
}

/// A list page flat across sizes.
pub fn list_flat(r: &Report) -> Target {
    flat(r, Kind::ListPage, "list page")
}

/// Roster's SCIM GET of one user at least [`crate::peer::TARGET_RATIO`] times the
/// throughput of the reference Python server scim2-server ([`crate::peer`]), the store
/// on disk, same client and run.
pub fn peer_ratio(r: &Report) -> Target {
    let name = format!(
        "Roster's SCIM GET ≥ {}x scim2-server's throughput (store on disk, same run)",
        crate::peer::TARGET_RATIO
    );
    match &r.peer {
        None => Target {
            name,
            met: None,
            detail: "not run (--no-peer, or no scenario that runs it)".into(),
        },
        Some(Err(e)) => Target {
            name,
            met: None,
            detail: format!("not measured: {e}"),
        },
        Some(Ok(p)) => Target {
            name,
            met: Some(p.met()),
            detail: format!(
                "{} / {} req/s = {:.2}x",
                rate(p.roster.loaded.throughput()),
                rate(p.peer.loaded.throughput()),
                p.ratio()
            ),
        },
    }
}

/// Every component ≤ [`MAX_COMPONENT_BYTES`].
pub fn component_sizes(r: &Report) -> Target {
    let over: Vec<String> = r
        .components
        .iter()
        .filter(|(_, b)| *b > MAX_COMPONENT_BYTES)
        .map(|(id, b)| format!("{id} {b} bytes"))
        .collect();
    let largest = r.components.iter().max_by_key(|(_, b)| *b);
    Target {
        name: format!("every component ≤ {MAX_COMPONENT_BYTES} bytes"),
        met: Some(over.is_empty()),
        detail: if over.is_empty() {
            largest.map_or_else(String::new, |(id, b)| format!("largest: {id}, {b} bytes"))
        } else {
            format!("over: {}", over.join(", "))
        },
    }
}

/// The whole report as Markdown.
pub fn markdown(r: &Report) -> String {
    let mut out = String::new();
    let cfg = &r.config;
    let _ = writeln!(out, "## roster-bench results\n");
    let _ = writeln!(
        out,
        "Sizes: {}. Each scenario: one request alone per mode (its key-value calls), then \
         one client, then {} concurrent clients, each phase up to {:.1} s per mode split into \
         {} rounds interleaving (c), (a) and (b) (reads after a {:.1} s warm-up, one client); \
         no concurrent phase for a request slower alone than a round (–); at most {} users \
         patched, {} users prepared for removal and {} users with 200 devices for the \
         asynchronous removal per mode.",
        cfg.sizes
            .iter()
            .map(|n| size_label(*n))
            .collect::<Vec<_>>()
            .join(", "),
        cfg.concurrency,
        cfg.duration.as_secs_f64(),
        cfg.rounds,
        cfg.warmup.as_secs_f64(),
        cfg.max_patches,
        cfg.removals,
        cfg.heavy_removals
    );
    let _ = writeln!(
        out,
        "\n### Components\n\n| component | .wasm bytes | KiB |\n|---|--:|--:|"
    );
    for (id, bytes) in &r.components {
        let _ = writeln!(out, "| {id} | {bytes} | {} |", bytes / 1024);
    }
    for s in &r.sizes {
        size_section(&mut out, s, cfg.concurrency);
    }
    scaling_section(&mut out, r);
    if let Some(peer) = &r.peer {
        out.push_str(&crate::peer::markdown(peer));
    }
    crate::search_report::section(&mut out, r);
    let _ = writeln!(
        out,
        "\n### Targets\n\nEach figure of issue 16 with its target ([`report::TARGETS`](../crates/bench/src/report.rs)).\n"
    );
    for t in targets(r) {
        let verdict = match t.met {
            Some(true) => "met",
            Some(false) => "MISSED",
            None => "not measured",
        };
        let _ = writeln!(out, "- **{verdict}**: {} — {}", t.name, t.detail);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_is_the_largest_ratio_to_the_first() {
        assert_eq!(growth(&[Some(2.0), Some(3.0), Some(1.0)]), Some(1.5));
        assert_eq!(growth(&[Some(2.0), Some(1.0)]), Some(0.5));
        assert_eq!(growth(&[Some(2.0), None, Some(3.0)]), None);
        assert_eq!(growth(&[Some(2.0)]), None);
    }
}
