//! Host bindings for the `roster:host/spin-imports` world (see `wit/host.wit`).

#![allow(missing_docs)]

wasmtime::component::bindgen!({
    path: "../../wit",
    world: "roster:host/spin-imports",
    imports: {
        default: trappable,
    },
    with: {
        "fermyon:spin/key-value.store": crate::kv::OpenStore,
        "spin:key-value/key-value.store": crate::kv::OpenStore,
        "wasi:keyvalue/store.bucket": crate::kv::OpenStore,
        "wasi:keyvalue/atomics.cas": crate::kv::CasState,
    },
});
