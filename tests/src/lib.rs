//! Support code shared by the test suites in `tests/tests/`.

pub mod fake_request;
