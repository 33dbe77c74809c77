//! Shadow comparison (SPEC "Shadow comparison"), pure: which requests are copied ([`sample`]), where the
//! copy goes ([`path`]), what a Seldon Core v1 answer says ([`seldon`]), and the one outcome of a pair
//! of answers ([`compare`]). The host copies bodies, sends the copy and counts; every rule is here.

pub mod compare;
pub mod path;
pub mod sample;
pub mod seldon;

/// Request and response bodies are copied up to this many bytes; a larger request is not copied
/// (`skipped`), a larger answer is not compared.
pub const MAX_COPY_BYTES: usize = 1024 * 1024;
