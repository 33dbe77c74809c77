//! The command line and the filter read configurations with the same code, so they must say the same:
//! every invalid configuration of the table, given to `predictor-router validate` (its library) and to
//! the compiled module in the harness, yields the same `<path>: <reason>`.

use predictor_router_cli::validate;
use predictor_router_e2e::invalid_configs::invalid_configurations;
use predictor_router_module_tests::module::module_bytes;
use wasm_test_harness::{Host, LogLevel, StartError};

#[test]
fn validate_and_the_module_report_every_invalid_configuration_identically() {
    let cases = invalid_configurations();
    assert!(cases.len() >= 40);
    for (config, expected) in cases {
        let bytes = config.to_string().into_bytes();
        let findings = validate::file("config.json", &bytes).unwrap_or_else(|u| panic!("{}", u.0));
        let errors: Vec<String> = findings
            .iter()
            .filter(|f| f.severity == "error")
            .map(|f| f.text())
            .collect();
        assert_eq!(
            errors,
            vec![format!("config.json: {expected}")],
            "validate, for {config}"
        );
        match Host::new(module_bytes()).with_config(&bytes).start() {
            Err(StartError::ConfigurationRejected { logs }) => {
                let logged: Vec<_> = logs.iter().filter(|l| l.level == LogLevel::Error).collect();
                assert_eq!(logged.len(), 1, "{logs:?}");
                assert_eq!(
                    logged[0].message,
                    format!("predictor_router: invalid configuration: {expected}"),
                    "the module, for {config}"
                );
            }
            Err(other) => panic!("unexpected failure: {other}"),
            Ok(_) => panic!("the module accepted {config}"),
        }
    }
}
