//! The proxy-wasm adapter (wasm32 only): the ABI's hostcalls (`abi`), the worker's port on them
//! (`port`), and the root and stream contexts that forward Envoy's callbacks to the core. Thin on
//! purpose: every rule lives in `crate::router` (the request path in `plan`, the tick and callouts in
//! `worker`).

mod abi;
mod environment;
mod http_context;
mod logger;
mod port;
mod random;
mod request;
mod root_context;

proxy_wasm::main! {{
    logger::install();
    proxy_wasm::set_root_context(|context_id| Box::new(root_context::PredictorRouterRoot::new(context_id)));
}}
