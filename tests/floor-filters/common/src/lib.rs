//! What every minimal filter of `tests/floor-filters/` shares: a root context that hands each HTTP
//! stream to `$stream`, and the module's entry point. A macro, because each filter is its own wasm
//! module (and must name `proxy_wasm` from its own dependencies).

/// Declares the root context and `proxy_wasm::main!` for a filter whose streams are `$stream`.
#[macro_export]
macro_rules! floor_filter {
    ($stream:expr) => {
        struct Root;

        impl proxy_wasm::traits::Context for Root {}

        impl proxy_wasm::traits::RootContext for Root {
            fn create_http_context(&self, _: u32) -> Option<Box<dyn proxy_wasm::traits::HttpContext>> {
                Some(Box::new($stream))
            }

            fn get_type(&self) -> Option<proxy_wasm::types::ContextType> {
                Some(proxy_wasm::types::ContextType::HttpContext)
            }
        }

        proxy_wasm::main! {{
            proxy_wasm::set_log_level(proxy_wasm::types::LogLevel::Info);
            proxy_wasm::set_root_context(|_| Box::new(Root));
        }}
    };
}
