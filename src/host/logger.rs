//! Routes the `log` crate to the host's log, without the SDK logger (which panics on a failed hostcall).

use proxy_wasm::types::LogLevel;

use super::abi;

struct HostLogger;

static LOGGER: HostLogger = HostLogger;

impl log::Log for HostLogger {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let level = match record.level() {
            log::Level::Error => LogLevel::Error,
            log::Level::Warn => LogLevel::Warn,
            log::Level::Info => LogLevel::Info,
            log::Level::Debug => LogLevel::Debug,
            log::Level::Trace => LogLevel::Trace,
        };
        abi::log(level, &record.args().to_string());
    }

    fn flush(&self) {}
}

/// Follows Envoy's level for the plugin (its `wasm` component: `--component-log-level wasm:debug`, or
/// the admin `/logging` endpoint followed by a configuration update), so that a debug line is not even
/// formatted unless Envoy would write it. Read at each configuration.
pub fn follow_host_level() {
    let filter = match abi::log_level() {
        Ok(0) => log::LevelFilter::Trace,
        Ok(1) => log::LevelFilter::Debug,
        Ok(2) | Err(_) => log::LevelFilter::Info,
        Ok(3) => log::LevelFilter::Warn,
        Ok(_) => log::LevelFilter::Error,
    };
    log::set_max_level(filter);
}

/// Installs the logger (Info and above: nothing is logged per request) and a panic hook that reports a
/// panic at critical level before the VM aborts, so an operator sees why a worker started failing.
pub fn install() {
    // `set_logger` fails only if a logger is already set, which then keeps working.
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(log::LevelFilter::Info);
    std::panic::set_hook(Box::new(|info| {
        abi::log(LogLevel::Critical, &format!("panic: {info}"))
    }));
}
