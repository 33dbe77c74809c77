//! `predictor-router`: the host tool of the contract's "Command line", on the same configuration code as
//! the filter (`predictor_router::router`), so it can never disagree with it.
//!
//! Exit codes: 0 fine; 1 `validate` found an invalid configuration; 2 bad usage or unreadable input;
//! 3 `ramp` would move users of a growing predictor; 4 `srm` found a sample-ratio mismatch (p < 0.001).

use std::io::{Read, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use predictor_router::router::config::Experiment;
use predictor_router::router::table::RoutingTable;
use predictor_router_cli::{assign, documents, ramp, signing, srm, validate};

#[derive(Parser)]
#[command(
    name = "predictor-router",
    version,
    about = "Check and explain predictor-router configurations"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate plugin configurations: JSON files, or YAML/JSON manifests whose WasmPlugin
    /// (spec.pluginConfig) and EnvoyFilter (the Wasm filter's configuration) documents are checked.
    /// Prints `FILE[: document N (Kind name)]: <path>: <reason>` per error (and `warning: ...`);
    /// exit 0 valid, 1 invalid, 2 unreadable.
    Validate {
        #[arg(required = true)]
        files: Vec<String>,
        /// One JSON object per finding on stdout: {file, where, severity, path, reason}.
        #[arg(long)]
        json: bool,
    },
    /// Bucket and predictor of user ids under the configured weights (as the filter assigns hashed
    /// users outside adaptive allocation). `--user` prints `bucket predictor`; `--users` writes CSV
    /// `user,bucket,predictor`, one id per line of the file (`-` for stdin), bytes as given (the `\r` of a
    /// CRLF line end is dropped).
    Assign {
        #[arg(long)]
        config: String,
        #[arg(long)]
        experiment: String,
        #[arg(long, conflicts_with = "users", required_unless_present = "users")]
        user: Option<String>,
        #[arg(long)]
        users: Option<String>,
    },
    /// For every experiment in both configurations: the share of hashed users (over the 10,000
    /// buckets) that change predictor, as a from → to matrix. A rollout's canary share comes from its
    /// steps: the tables compared are those in force now (or `--at`), and each step of a rollout in
    /// `--to` is also compared with the one before it. Exit 3, with a warning naming the predictors,
    /// when users of a predictor whose share grows would move.
    Ramp {
        #[arg(long)]
        from: String,
        #[arg(long)]
        to: String,
        /// The instant (RFC 3339 UTC, e.g. 2026-12-07T09:30:00Z) whose tables are compared; now by default.
        #[arg(long)]
        at: Option<String>,
    },
    /// Every rollout's schedule as wall-clock times (UTC), and the step and shares of new assignments
    /// at an instant (now by default).
    Rollout {
        #[arg(long)]
        config: String,
        /// RFC 3339 UTC at second precision, e.g. 2026-12-07T09:30:00Z.
        #[arg(long)]
        at: Option<String>,
    },
    /// Sample-ratio mismatch: per fixed-weight experiment, chi-square of new assignments (random and
    /// hashed decisions) from Envoy's /stats/prometheus or /stats text against the configured weights
    /// (weight-0 predictors left out). Prints counts, chi-square, df and p; exit 4 when any p < 0.001.
    Srm {
        #[arg(long)]
        config: String,
        /// The stats text, `-` for stdin.
        #[arg(long)]
        stats: String,
    },
    /// Mint a signed override token (for experiments with `override.signed`) with the first key of
    /// the variable (base64url keys, comma-separated, as the gateway's). Prints the token on stdout and
    /// its expiry (RFC 3339, UTC) on stderr. Send it as the override header or query parameter.
    SignOverride {
        #[arg(long)]
        experiment: String,
        #[arg(long)]
        predictor: String,
        /// How long the token works: 90s, 30m, 2h, 1d, "1h 30m"; at most 31 days.
        #[arg(long)]
        ttl: String,
        /// The environment variable holding the keys.
        #[arg(long, default_value = signing::DEFAULT_KEY_ENV)]
        key_env: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Validate { files, json } => validate_files(&files, json),
        Command::Assign {
            config,
            experiment,
            user,
            users,
        } => assign(&config, &experiment, user, users),
        Command::Ramp { from, to, at } => at_unix(at.as_deref()).and_then(|at| ramp(&from, &to, at)),
        Command::Rollout { config, at } => {
            let warn = at.is_none();
            at_unix(at.as_deref()).and_then(|at| rollout(&config, at, warn.then_some(at)))
        }
        Command::Srm { config, stats } => srm(&config, &stats),
        Command::SignOverride {
            experiment,
            predictor,
            ttl,
            key_env,
        } => sign_override(&experiment, &predictor, &ttl, &key_env),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(message) => {
            eprintln!("predictor-router: {message}");
            ExitCode::from(2)
        }
    }
}

fn sign_override(experiment: &str, predictor: &str, ttl_text: &str, key_env: &str) -> Result<u8, String> {
    let ttl = humantime::parse_duration(ttl_text).map_err(|e| format!("--ttl {ttl_text:?}: {e}"))?;
    let now = std::time::SystemTime::now();
    let minted = signing::sign_override(
        &signing::ProcessEnvironment,
        key_env,
        experiment,
        predictor,
        ttl,
        now,
    )?;
    println!("{}", minted.token);
    eprintln!(
        "expires {} (in {ttl_text}); minted with key 1 of {key_env}",
        humantime::format_rfc3339_seconds(minted.expiry),
    );
    Ok(0)
}

fn read(path: &str) -> Result<Vec<u8>, String> {
    if path == "-" {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .map_err(|e| format!("stdin: {e}"))?;
        return Ok(bytes);
    }
    std::fs::read(path).map_err(|e| format!("{path}: {e}"))
}

/// The one configuration of a file given to assign, ramp or srm (an error exits 2).
fn table_of(path: &str) -> Result<RoutingTable, String> {
    let bytes = read(path)?;
    let found = documents::configurations(path, &bytes).map_err(|u| u.0)?;
    let [one] = found.as_slice() else {
        if found.is_empty() {
            return Err(format!("{path}: no plugin configuration"));
        }
        return Err(format!(
            "{path}: holds {} configurations; give a file with one",
            found.len()
        ));
    };
    signing::parse_for_checking(&one.json)
        .map(|checked| checked.table)
        .map_err(|e| format!("{}: {e}", one.label))
}

fn experiment_named<'t>(table: &'t RoutingTable, name: &str, file: &str) -> Result<&'t Experiment, String> {
    table
        .experiments()
        .iter()
        .find(|e| e.name == name)
        .ok_or_else(|| {
            let names: Vec<&str> = table.experiments().iter().map(|e| e.name.as_str()).collect();
            format!("{file}: no experiment \"{name}\" (it has: {})", names.join(", "))
        })
}

fn validate_files(files: &[String], json: bool) -> Result<u8, String> {
    let (mut invalid, mut unreadable) = (false, false);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for file in files {
        let findings = match read(file).and_then(|bytes| validate::file(file, &bytes).map_err(|u| u.0)) {
            Ok(findings) => findings,
            Err(message) => {
                unreadable = true;
                if json {
                    let _ = writeln!(
                        out,
                        "{}",
                        serde_json::json!({"file": file, "severity": "unreadable", "reason": message})
                    );
                } else {
                    eprintln!("{message}");
                }
                continue;
            }
        };
        for finding in &findings {
            invalid |= finding.severity == "error";
            let _ = if json {
                writeln!(out, "{}", finding.json())
            } else {
                writeln!(out, "{}", finding.text())
            };
        }
        if !json && findings.iter().all(|f| f.severity != "error") {
            let checked = read(file)
                .ok()
                .and_then(|b| documents::configurations(file, &b).ok())
                .map_or(0, |c| c.len());
            let _ = if checked == 0 {
                writeln!(
                    out,
                    "{file}: no plugin configuration (other kinds are not checked)"
                )
            } else {
                writeln!(out, "{file}: valid ({checked} configuration(s))")
            };
        }
    }
    Ok(if unreadable {
        2
    } else if invalid {
        1
    } else {
        0
    })
}

fn assign(config: &str, experiment: &str, user: Option<String>, users: Option<String>) -> Result<u8, String> {
    let table = table_of(config)?;
    let experiment = experiment_named(&table, experiment, config)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match (user, users) {
        (Some(user), _) => {
            let bucket = predictor_router::router::bucketing::user_bucket(&experiment.name, user.as_bytes());
            let predictor = experiment
                .predictor(experiment.buckets.predictor_of(bucket))
                .map_or("", |p| p.name.as_str());
            writeln!(out, "{bucket} {predictor}").map_err(|e| e.to_string())?;
        }
        (None, Some(file)) => {
            let bytes = read(&file)?;
            assign::write_csv(experiment, &assign::ids(&bytes), &mut out).map_err(|e| e.to_string())?;
        }
        (None, None) => return Err("assign needs --user ID or --users FILE".into()),
    }
    out.flush().map_err(|e| e.to_string())?;
    Ok(0)
}

/// `--at` in Unix seconds, or now.
fn at_unix(at: Option<&str>) -> Result<u64, String> {
    match at {
        Some(text) => predictor_router::router::instant::parse(text).ok_or_else(|| {
            format!("--at {text:?}: not an RFC 3339 UTC instant such as 2026-12-07T09:30:00Z")
        }),
        None => Ok(std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())),
    }
}

fn rollout(config: &str, at: u64, warn_at: Option<u64>) -> Result<u8, String> {
    let table = table_of(config)?;
    let mut any = false;
    for experiment in table.experiments() {
        if let Some(report) = predictor_router_cli::rollout::report(experiment, at, warn_at) {
            print!("{report}");
            any = true;
        }
    }
    if !any {
        println!("{config}: no experiment has a rollout");
    }
    Ok(0)
}

fn ramp(from: &str, to: &str, at: u64) -> Result<u8, String> {
    let (before, after) = (table_of(from)?, table_of(to)?);
    let mut code = 0;
    for experiment in before.experiments() {
        let Some(next) = after.experiments().iter().find(|e| e.name == experiment.name) else {
            println!("experiment {}: only in {from}, skipped", experiment.name);
            continue;
        };
        let ramp = ramp::compare_tables(
            experiment,
            &ramp::table_at(experiment, at),
            next,
            &ramp::table_at(next, at),
        );
        print!("{}", ramp.render());
        if !ramp.unstable.is_empty() {
            code = 3;
        }
        for (label, step) in ramp::schedule(next) {
            print!(
                "  rollout {label}: {}",
                step.render().trim_start_matches("experiment ")
            );
            if !step.unstable.is_empty() {
                code = 3;
            }
        }
    }
    for experiment in after.experiments() {
        if !before.experiments().iter().any(|e| e.name == experiment.name) {
            println!("experiment {}: only in {to}, skipped", experiment.name);
        }
    }
    Ok(code)
}

fn srm(config: &str, stats: &str) -> Result<u8, String> {
    let table = table_of(config)?;
    let text = String::from_utf8(read(stats)?).map_err(|_| format!("{stats}: not UTF-8 text"))?;
    let decisions = srm::decisions(&text);
    let mut code = 0;
    for experiment in table.experiments() {
        match srm::test(experiment, &decisions) {
            srm::Outcome::Skipped(why) => println!("experiment {}: skipped: {why}", experiment.name),
            srm::Outcome::Tested {
                counts,
                chi_square,
                df,
                p,
            } => {
                let mismatch = p < 0.001;
                if mismatch {
                    code = 4;
                }
                println!(
                    "experiment {}: chi-square {chi_square:.2}, df {df}, p {p:.4}: {}",
                    experiment.name,
                    if mismatch {
                        "SAMPLE-RATIO MISMATCH (p < 0.001): new assignments are not split as configured"
                    } else {
                        "consistent with the weights"
                    }
                );
                for (name, observed, expected) in counts {
                    println!("  {name:<12} observed {observed:>10} expected {expected:>12.1}");
                }
            }
        }
    }
    Ok(code)
}
