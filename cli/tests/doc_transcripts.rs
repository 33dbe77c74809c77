//! Every command the README and `docs/` show as a transcript (a line `$ command` in a code block,
//! followed by what it prints) runs as shown: from the repository root, with this build of
//! `predictor-router` first on the PATH, printing exactly the lines shown (`...` stands for any lines)
//! and exiting with the code a trailing `# exit N` names (0 otherwise).
//!
//! Commands that need what a test machine does not have are not run, and are named in the output:
//! a cluster (`kubectl`), a running gateway (`curl`), a build (`make`, `cargo`), and commands whose
//! output depends on the clock and a key (`sign-override` of a token).

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

struct Transcript {
    page: String,
    command: String,
    exit: i32,
    expected: Vec<String>,
}

fn pages() -> Vec<PathBuf> {
    let mut pages = vec![repo().join("README.md")];
    for entry in std::fs::read_dir(repo().join("docs")).unwrap().flatten() {
        if entry.path().extension().is_some_and(|e| e == "md") {
            pages.push(entry.path());
        }
    }
    pages.sort();
    pages
}

fn transcripts(page: &Path) -> Vec<Transcript> {
    let text = std::fs::read_to_string(page).unwrap();
    let name = page.strip_prefix(repo()).unwrap().display().to_string();
    let mut out: Vec<Transcript> = Vec::new();
    let mut in_code = false;
    let mut current: Option<Transcript> = None;
    for line in text.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
            out.extend(current.take());
            continue;
        }
        if !in_code {
            continue;
        }
        if let Some(command) = line.strip_prefix("$ ") {
            out.extend(current.take());
            let (command, comment) = command.split_once("   #").unwrap_or((command, ""));
            let exit = comment
                .trim()
                .strip_prefix("exit ")
                .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            current = Some(Transcript {
                page: name.clone(),
                command: command.trim().to_string(),
                exit,
                expected: Vec::new(),
            });
        } else if let Some(t) = current.as_mut() {
            t.expected.push(line.trim_end().to_string());
        }
    }
    out
}

/// Why a command is not run here, if it is not.
fn not_run(command: &str) -> Option<&'static str> {
    let words: Vec<&str> = command.split_whitespace().collect();
    if command.contains("kubectl") {
        Some("needs a cluster")
    } else if words.first() == Some(&"curl") || command.contains("| curl") {
        Some("needs a running gateway")
    } else if matches!(words.first(), Some(&"make") | Some(&"cargo")) {
        Some("a build")
    } else if command.contains("sign-override") && !command.contains("--ttl 40d") {
        Some("a token depends on the clock and the key")
    } else {
        None
    }
}

/// `expected` with `...` matching any run of lines.
fn matches(expected: &[String], got: &[&str]) -> bool {
    match expected.split_first() {
        None => got.is_empty(),
        Some((first, rest)) if first.trim() == "..." => {
            (0..=got.len()).any(|skip| matches(rest, &got[skip..]))
        }
        Some((first, rest)) => got.first().is_some_and(|g| g.trim_end() == first) && matches(rest, &got[1..]),
    }
}

#[test]
fn every_shown_command_runs_as_shown() {
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_predictor-router"))
        .parent()
        .unwrap()
        .to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let (mut ran, mut skipped, mut failures) = (0, Vec::new(), Vec::new());
    for page in pages() {
        for t in transcripts(&page) {
            if let Some(why) = not_run(&t.command) {
                skipped.push(format!("{}: `{}` ({why})", t.page, t.command));
                continue;
            }
            let output = Command::new("bash")
                .arg("-c")
                .arg(format!("{} 2>&1", t.command))
                .current_dir(repo())
                .env("PATH", &path)
                .env_remove("PREDICTOR_ROUTER_KEYS")
                .output()
                .unwrap();
            let printed = String::from_utf8_lossy(&output.stdout).to_string();
            let got: Vec<&str> = printed.trim_end_matches('\n').lines().collect();
            let code = output.status.code().unwrap_or(-1);
            if code != t.exit || !matches(&t.expected, &got) {
                failures.push(format!(
                    "{}: `{}` exited {code} (shown: {}) and printed:\n{printed}--- the page shows:\n{}",
                    t.page,
                    t.command,
                    t.exit,
                    t.expected.join("\n")
                ));
            }
            ran += 1;
        }
    }
    println!(
        "ran {ran} documented commands; not run here:\n  {}",
        skipped.join("\n  ")
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(ran >= 10, "only {ran} documented commands ran");
}
