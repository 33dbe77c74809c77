//! `predictor-router assign`: the bucket and predictor of user ids, as the filter assigns hashed users
//! from the configured weights.

use std::io::Write;

use predictor_router::router::bucketing::user_bucket;
use predictor_router::router::config::Experiment;

/// `user,bucket,predictor` for each id, RFC 4180 quoting where needed; ids are bytes as given.
pub fn write_csv(experiment: &Experiment, ids: &[&[u8]], out: &mut impl Write) -> std::io::Result<()> {
    out.write_all(b"user,bucket,predictor\n")?;
    for id in ids {
        let bucket = user_bucket(&experiment.name, id);
        let predictor = experiment
            .predictor(experiment.buckets.predictor_of(bucket))
            .map_or("", |p| p.name.as_str());
        write_field(out, id)?;
        writeln!(out, ",{bucket},{predictor}")?;
    }
    Ok(())
}

fn write_field(out: &mut impl Write, field: &[u8]) -> std::io::Result<()> {
    if field.iter().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r')) {
        out.write_all(b"\"")?;
        for chunk in field
            .split(|b| *b == b'"')
            .collect::<Vec<_>>()
            .join(&b"\"\""[..])
            .chunks(8192)
        {
            out.write_all(chunk)?;
        }
        out.write_all(b"\"")
    } else {
        out.write_all(field)
    }
}

/// One id per line (`\n`, an optional `\r` before it dropped); blank lines skipped.
pub fn ids(bytes: &[u8]) -> Vec<&[u8]> {
    bytes
        .split(|b| *b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .filter(|line| !line.is_empty())
        .collect()
}
