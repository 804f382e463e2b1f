#!/usr/bin/env python3
"""Scaffolds a component: `scripts/new-component.py <id> <route> <Endpoint path> "<comment>"`.

Writes components/<id>/{Cargo.toml,src/lib.rs} and appends its [[trigger.http]] and
[component.<id>] to spin.toml (the same shape as every other component: the default
key-value store, the admin_token variable, no outbound hosts; no build table: the first
component's one `cargo build --workspace …` builds every component, see spin.toml).
Run it once per new route; it refuses to overwrite.
"""
import os
import sys

cid, route, endpoint, comment = sys.argv[1:5]
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
d = os.path.join(root, "components", cid)
if os.path.exists(d):
    sys.exit(f"{d} exists")
os.makedirs(os.path.join(d, "src"))
with open(os.path.join(d, "Cargo.toml"), "w") as f:
    f.write(f"""[package]
name = "{cid}"
version.workspace = true
edition.workspace = true
rust-version.workspace = true
license.workspace = true
publish.workspace = true

[lints]
workspace = true

[lib]
crate-type = ["cdylib"]

[dependencies]
roster-api.workspace = true
roster-spin.workspace = true
spin-sdk.workspace = true
""")
with open(os.path.join(d, "src", "lib.rs"), "w") as f:
    f.write(f"""//! Component `{cid}`: `{route}`.

// `http_component` expands to the wasi:http export glue (an `export_name`d, unsafe
// ABI shim), so this crate alone allows what the workspace denies.
#![allow(unsafe_code)]

use spin_sdk::http::{{IncomingRequest, IntoResponse}};

/// {comment}
#[spin_sdk::http_component]
async fn handle(req: IncomingRequest) -> impl IntoResponse {{
    roster_spin::serve::<{endpoint}>(req).await
}}
""")
wasm = cid.replace("-", "_")
with open(os.path.join(root, "spin.toml"), "a") as f:
    f.write(f"""
# {comment}
[[trigger.http]]
route = "{route}"
component = "{cid}"

[component.{cid}]
source = "target/wasm32-wasip2/release/{wasm}.wasm"
key_value_stores = ["default"]
allowed_outbound_hosts = []
[component.{cid}.variables]
admin_token = "{{{{ admin_token }}}}"
""")
print("created", cid)
