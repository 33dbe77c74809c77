//! `predictor-router validate FILE...`: the filter's own parser over every configuration found, the
//! same `<path>: <reason>` text the filter logs, and its warnings.

use crate::signing::{parse_for_checking, Checked};

use crate::documents::{configurations, Unreadable};

pub struct Finding {
    pub label: String,
    pub severity: &'static str,
    pub path: String,
    pub reason: String,
}

/// Findings of one file at the wall clock's now, or the reason it could not be read.
pub fn file(name: &str, bytes: &[u8]) -> Result<Vec<Finding>, Unreadable> {
    file_at(name, bytes, crate::rollout::now_unix())
}

/// Findings of one file at `now_unix` (a rollout's start is judged against it).
pub fn file_at(name: &str, bytes: &[u8], now_unix: u64) -> Result<Vec<Finding>, Unreadable> {
    let mut findings = Vec::new();
    for found in configurations(name, bytes)? {
        match parse_for_checking(&found.json) {
            Err(error) => findings.push(Finding {
                label: found.label,
                severity: "error",
                path: error.path,
                reason: error.reason,
            }),
            Ok(Checked {
                table,
                keys_not_checked,
            }) => {
                if let Some(variable) = keys_not_checked {
                    findings.push(Finding {
                        label: found.label.clone(),
                        severity: "warning",
                        path: "signing.keys_env".to_string(),
                        reason: format!(
                            "{variable} is not set in this shell: the key set was not checked \
                             (the gateway refuses the configuration if its VM lacks it)"
                        ),
                    });
                }
                for (i, experiment) in table.experiments().iter().enumerate() {
                    if let Some(reason) = crate::rollout::stale_start(experiment, now_unix) {
                        findings.push(Finding {
                            label: found.label.clone(),
                            severity: "warning",
                            path: format!("experiments[{i}].rollout.start"),
                            reason,
                        });
                    }
                }
                for warning in table.warnings() {
                    let (path, reason) = warning.split_once(": ").unwrap_or(("$", warning.as_str()));
                    findings.push(Finding {
                        label: found.label.clone(),
                        severity: "warning",
                        path: path.to_string(),
                        reason: reason.to_string(),
                    });
                }
            }
        }
    }
    Ok(findings)
}

impl Finding {
    pub fn text(&self) -> String {
        let prefix = if self.severity == "warning" {
            "warning: "
        } else {
            ""
        };
        format!("{}: {prefix}{}: {}", self.label, self.path, self.reason)
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "file": self.label.split(": document").next().unwrap_or(&self.label),
            "where": self.label,
            "severity": self.severity,
            "path": self.path,
            "reason": self.reason,
        })
    }
}
