//! The proxy-wasm adapter (wasm32 only): reads the request for the core, applies its decisions, keeps
//! metrics. Thin on purpose: every rule lives in `crate::router`.

mod abi;
mod environment;
mod fleet;
mod gauges;
mod http_context;
mod learning;
mod logger;
mod outcomes;
mod random;
mod request;
mod rollout;
mod root_context;
mod shadow;
mod state;

proxy_wasm::main! {{
    logger::install();
    proxy_wasm::set_root_context(|context_id| Box::new(root_context::PredictorRouterRoot::new(context_id)));
}}
