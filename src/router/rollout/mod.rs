//! Progressive rollout: a canary whose share of new assignments follows a schedule of steps from a
//! start instant, and a guard that rolls it back when its success rate is worse than the baseline's.
//! Pure and natively tested; everything follows from the configuration and the clock the host reports.
//!
//! - [`schedule`]: the step at an instant, and when it changes next
//! - [`shares`]: the shares and bucket table of each phase (before start, each step, rolled back)
//! - [`guard`]: the always-valid sequential test (mixture SPRT) that decides a rollback
//! - [`canary`]: one worker's rollout: its ledger, the phase in force, the guard's looks, the log lines

pub mod canary;
pub mod guard;
pub mod schedule;
pub mod shares;
