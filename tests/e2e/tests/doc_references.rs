//! What the docs cite exists: every relative link of the README, SECURITY.md, BENCHMARKS.md and the
//! pages of `docs/` and `envoyfilter/` (with its `#anchor`, a heading of the page it points to), every
//! repository path they or the manifests' comments name in backticks or plain text, and every test they
//! name as `<suite>::<test>`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use predictor_router_e2e::scenario::repo_root;

/// The Markdown pages users read.
fn pages() -> Vec<PathBuf> {
    let root = repo_root();
    let mut pages: Vec<PathBuf> = ["README.md", "SECURITY.md", "BENCHMARKS.md"]
        .iter()
        .map(|p| root.join(p))
        .collect();
    for dir in ["docs", "envoyfilter", "tests/istio/crds"] {
        collect(
            &root.join(dir),
            &|p| p.extension().is_some_and(|e| e == "md"),
            &mut pages,
        );
    }
    pages.sort();
    pages
}

fn collect(dir: &Path, keep: &dyn Fn(&Path) -> bool, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, keep, out);
        } else if keep(&path) {
            out.push(path);
        }
    }
}

/// GitHub's anchor of a heading: lower case, punctuation dropped except `-` and `_`, spaces to `-`.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

fn anchors(page: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(page).unwrap();
    let mut in_code = false;
    let mut out = BTreeSet::new();
    for line in text.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
        }
        if !in_code && line.starts_with('#') {
            out.insert(slug(line.trim_start_matches('#')));
        }
    }
    out
}

/// The targets of `[text](target)` links outside code blocks.
fn links(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_code = false;
    for line in text.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        // Inline code is not a link: drop every `...` span.
        let prose: String = line.split('`').step_by(2).collect::<Vec<_>>().join(" ");
        let mut rest = prose.as_str();
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let Some(end) = after.find(')') else { break };
            out.push(after[..end].to_string());
            rest = &after[end..];
        }
    }
    out
}

#[test]
fn every_relative_link_and_anchor_exists() {
    let mut checked = 0;
    let mut broken = Vec::new();
    for page in pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        for target in links(&text) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (file, anchor) = target.split_once('#').unwrap_or((&target, ""));
            let resolved = if file.is_empty() {
                page.clone()
            } else {
                page.parent().unwrap().join(file)
            };
            if !resolved.exists() {
                broken.push(format!("{}: ({target}) does not exist", page.display()));
            } else if !anchor.is_empty()
                && resolved.extension().is_some_and(|e| e == "md")
                && !anchors(&resolved).contains(anchor)
            {
                broken.push(format!(
                    "{}: ({target}) names no heading of its page",
                    page.display()
                ));
            }
            checked += 1;
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
    assert!(checked > 50, "only {checked} links checked");
}

/// Repository paths named in text: words that start with one of the repository's top folders.
fn cited_paths(text: &str) -> Vec<String> {
    const TOPS: [&str; 7] = [
        "src/",
        "docs/",
        "envoyfilter/",
        "tests/",
        "cli/",
        "wasm-test-harness/",
        ".ci/",
    ];
    let mut out = Vec::new();
    for word in text.split(|c: char| c.is_whitespace() || "`()[]\"',;<>".contains(c)) {
        let word = word.trim_end_matches(['.', ':']);
        if TOPS.iter().any(|t| word.starts_with(t))
            && !word.contains('*')
            && !word.contains("<")
            && !word.contains("...")
            && !word.contains('…')
            && !word.contains('$')
        {
            out.push(word.to_string());
        }
    }
    out
}

#[test]
fn every_repository_path_cited_by_the_docs_and_the_manifests_exists() {
    let root = repo_root();
    let mut sources = pages();
    collect(
        &root.join("envoyfilter"),
        &|p| p.extension().is_some_and(|e| e == "yaml"),
        &mut sources,
    );
    // Folders made at run time (fuzz artifacts, builds) are named in .gitignore.
    let ignored: Vec<String> = std::fs::read_to_string(root.join(".gitignore"))
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix('/'))
        .map(str::to_string)
        .collect();
    let mut checked = 0;
    let mut missing = Vec::new();
    for source in sources {
        let text = std::fs::read_to_string(&source).unwrap();
        // In manifests, only the comments cite paths.
        let text: String = if source.extension().is_some_and(|e| e == "yaml") {
            text.lines()
                .filter_map(|l| l.trim_start().strip_prefix('#'))
                .collect::<Vec<_>>()
                .join("\n")
        } else {
            text
        };
        for path in cited_paths(&text) {
            if ignored.iter().any(|i| path.starts_with(i.as_str())) {
                continue;
            }
            if !root.join(&path).exists() {
                missing.push(format!("{} cites {path}", source.display()));
            }
            checked += 1;
        }
    }
    assert!(
        missing.is_empty(),
        "paths that do not exist:\n{}",
        missing.join("\n")
    );
    assert!(checked > 50, "only {checked} paths checked");
}

/// The test files of every suite, by the name a doc cites them with (`e2e_routing`, `manifests`, ...).
fn suites() -> Vec<(String, PathBuf)> {
    let root = repo_root();
    let mut files = Vec::new();
    for dir in [
        "tests/core/tests",
        "tests/module/tests",
        "tests/e2e/tests",
        "tests/tools/tests",
        "cli/tests",
        "wasm-test-harness/tests",
    ] {
        collect(
            &root.join(dir),
            &|p| p.extension().is_some_and(|e| e == "rs"),
            &mut files,
        );
    }
    files
        .into_iter()
        .map(|f| (f.file_stem().unwrap().to_string_lossy().to_string(), f))
        .collect()
}

#[test]
fn every_test_the_docs_name_exists() {
    let suites = suites();
    let mut checked = 0;
    let mut missing = Vec::new();
    for page in pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        for word in text.split(|c: char| c.is_whitespace() || "`()[],;'\"".contains(c)) {
            let word = word.trim_end_matches(['.', ':']);
            let Some((suite, test)) = word.split_once("::") else {
                continue;
            };
            if test.contains("...") || test.contains('…') || test.is_empty() || test.contains("::") {
                continue;
            }
            let Some((_, file)) = suites.iter().find(|(name, _)| name == suite) else {
                continue;
            };
            let source = std::fs::read_to_string(file).unwrap();
            if !source.contains(&format!("fn {test}(")) {
                missing.push(format!("{} names {suite}::{test}", page.display()));
            }
            checked += 1;
        }
    }
    assert!(
        missing.is_empty(),
        "tests that do not exist:\n{}",
        missing.join("\n")
    );
    assert!(checked > 10, "only {checked} test names checked");
}

/// docs/performance.md quotes BENCHMARKS.md, which `make bench` writes: every table row of the page,
/// and the run it names, stand in BENCHMARKS.md word for word.
#[test]
fn the_performance_page_quotes_the_last_benchmark_run_word_for_word() {
    let root = repo_root();
    let page = std::fs::read_to_string(root.join("docs/performance.md")).unwrap();
    let benchmarks = std::fs::read_to_string(root.join("BENCHMARKS.md")).unwrap();
    let rows: Vec<&str> = page.lines().filter(|l| l.starts_with('|')).collect();
    assert!(rows.len() > 20, "the page quotes only {} rows", rows.len());
    let lines: BTreeSet<&str> = benchmarks.lines().collect();
    let stale: Vec<&&str> = rows.iter().filter(|r| !lines.contains(**r)).collect();
    assert!(
        stale.is_empty(),
        "rows of docs/performance.md not in BENCHMARKS.md:\n{stale:#?}"
    );
    let run = benchmarks
        .lines()
        .find_map(|l| l.strip_prefix("Written by "))
        .and_then(|l| l.split(". Do not edit").next())
        .expect("BENCHMARKS.md names its run");
    assert!(
        page.contains(run),
        "docs/performance.md does not name the run {run}"
    );
}

/// docs/development.md's layout names every module of the filter: a file or folder added under
/// `src/` without a line there fails here.
#[test]
fn the_layout_in_docs_development_names_every_module_under_src() {
    let root = repo_root();
    let page = std::fs::read_to_string(root.join("docs/development.md")).unwrap();
    let start = page.find("```").expect("a layout block");
    let end = start + 3 + page[start + 3..].find("```").expect("the block ends");
    let layout = &page[start..end];
    let named = |word: &str| {
        layout
            .split(|c: char| c.is_whitespace())
            .any(|w| w == word || w.ends_with(&format!("/{word}")))
    };
    let mut files = Vec::new();
    collect(
        &root.join("src"),
        &|p| p.extension().is_some_and(|e| e == "rs" || e == "json"),
        &mut files,
    );
    let mut missing = Vec::new();
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        if name != "mod.rs" && !named(&name) {
            missing.push(file.strip_prefix(&root).unwrap().display().to_string());
        }
        let dir = file.parent().unwrap();
        if dir != root.join("src") {
            let dir_name = format!("{}/", dir.file_name().unwrap().to_string_lossy());
            if !named(&dir_name) {
                missing.push(dir.strip_prefix(&root).unwrap().display().to_string());
            }
        }
    }
    missing.sort();
    missing.dedup();
    assert!(
        missing.is_empty(),
        "not named in docs/development.md's layout:\n{}",
        missing.join("\n")
    );
    assert!(files.len() > 60, "only {} modules found", files.len());
}

/// docs/observability.md's table of alerts has a row for every alert the shipped PrometheusRule has.
#[test]
fn the_observability_page_lists_every_shipped_alert() {
    let root = repo_root();
    let rules =
        std::fs::read_to_string(root.join("envoyfilter/overlays/monitoring/prometheusrule.yaml")).unwrap();
    let page = std::fs::read_to_string(root.join("docs/observability.md")).unwrap();
    let alerts: Vec<&str> = rules
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- alert: "))
        .collect();
    assert!(alerts.len() >= 8, "{alerts:?}");
    let missing: Vec<&&str> = alerts
        .iter()
        .filter(|a| !page.lines().any(|l| l.starts_with(&format!("| `{a}`"))))
        .collect();
    assert!(
        missing.is_empty(),
        "alerts without a row in docs/observability.md: {missing:?}"
    );
}
