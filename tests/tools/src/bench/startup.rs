//! Start-up: how long Envoy takes from exec to serving, and its resident memory then, without and
//! with the module (the difference is creating the V8 VMs, compiling the module and `on_configure`
//! of the shipped configuration on the main thread and each worker).

use std::path::Path;
use std::time::Instant;

use super::load::{BenchEnvoy, ENVOY_CORE};
use super::variants::{bootstrap, Mode, Variant};
use predictor_router_e2e::envoy::free_port;
use predictor_router_module_tests::figures::median;

pub struct StartupFigure {
    pub variant: String,
    /// Median milliseconds from spawning Envoy to its listener accepting connections.
    pub ready_ms: f64,
    /// Median resident memory once ready, bytes.
    pub resident_bytes: f64,
    /// Median CPU time Envoy used to get there, milliseconds.
    pub cpu_ms: f64,
    pub runs: usize,
}

/// Starts each variant `runs` times (`--concurrency 1`, pinned like the load runs).
pub fn measure(variants: &[&Variant], dir: &Path, runs: usize) -> Vec<StartupFigure> {
    variants
        .iter()
        .map(|variant| {
            let (mut ready, mut resident, mut cpu) = (Vec::new(), Vec::new(), Vec::new());
            for run in 0..runs {
                let (listener, admin) = (free_port(), free_port());
                let config = bootstrap(variant, Mode::Direct, listener, admin, None);
                let started = Instant::now();
                let envoy = BenchEnvoy::start(
                    dir,
                    &format!("startup-{}-{run}", variant.name.replace([' ', ','], "-")),
                    &config,
                    listener,
                    admin,
                    ENVOY_CORE,
                );
                ready.push(started.elapsed().as_secs_f64() * 1000.0);
                resident.push(envoy.resident_bytes() as f64);
                cpu.push(envoy.cpu_nanos() as f64 / 1e6);
            }
            StartupFigure {
                variant: variant.name.to_string(),
                ready_ms: median(ready),
                resident_bytes: median(resident),
                cpu_ms: median(cpu),
                runs,
            }
        })
        .collect()
}
