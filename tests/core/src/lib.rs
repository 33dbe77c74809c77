//! Fixtures of the native suites in `tests/core/tests/` (the decision core, tested without a wasm
//! runtime), shared with the module, end-to-end and command-line tests:
//!
//! - [`shipped`]: the plugin configuration as shipped in `envoyfilter/base/wasmplugin.yaml`, and its paths
//! - [`invalid_configs`]: invalid configurations and their exact errors (parser, module, CLI)

pub mod invalid_configs;
pub mod shipped;
