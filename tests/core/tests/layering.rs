//! The core's floors, read from its source: configuration is the bottom floor of the features. What
//! `config/` imports (the leaves: ids, bucketing, cookies, instants, the signing keys) never imports
//! `config/` back, and the worker (`worker/`) is above everything it drives, never imported by it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn router() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../src/router")
}

/// Every `.rs` file of a module (`name.rs`, or `name/**.rs`).
fn files_of(module: &str) -> Vec<PathBuf> {
    let single = router().join(format!("{module}.rs"));
    if single.exists() {
        return vec![single];
    }
    let mut files = Vec::new();
    let mut dirs = vec![router().join(module)];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files
}

/// The top-level modules of `crate::router` a module's files name.
fn imports_of(module: &str) -> BTreeSet<String> {
    let mut imported = BTreeSet::new();
    for file in files_of(module) {
        let source = std::fs::read_to_string(&file).unwrap();
        // Code only: a doc comment may name any module.
        let text: String = source
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        for (i, _) in text.match_indices("crate::router::") {
            let rest = &text[i + "crate::router::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() && name != module {
                imported.insert(name);
            }
        }
    }
    imported
}

#[test]
fn nothing_the_configuration_imports_imports_the_configuration() {
    let below = imports_of("config");
    assert!(below.contains("ids") && below.contains("signing"), "{below:?}");
    let cycles: Vec<String> = below
        .iter()
        .filter(|m| imports_of(m).contains("config"))
        .cloned()
        .collect();
    assert!(
        cycles.is_empty(),
        "config/ and these import each other: {cycles:?}"
    );
}

#[test]
fn no_decision_module_imports_the_worker() {
    let modules = [
        "adaptive",
        "bucketing",
        "callout",
        "clock",
        "config",
        "cookies",
        "decision",
        "fleet",
        "header_map",
        "ids",
        "instant",
        "matching",
        "metrics",
        "outcomes",
        "plan",
        "query",
        "response",
        "rollout",
        "shadow",
        "signing",
        "table",
    ];
    let importing: Vec<&str> = modules
        .iter()
        .copied()
        .filter(|m| imports_of(m).contains("worker"))
        .collect();
    assert!(importing.is_empty(), "these import the worker: {importing:?}");
}
