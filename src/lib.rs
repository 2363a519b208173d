//! cleartrace: a passive sensor that tells which telephony channels carry personal
//! data in clear or over weak TLS. See DESIGN.md for the contract.
//!
//! The pipeline, left to right: `capture` → `decode` → `flow` → `protocols`
//! (dissectors emit facts) → `policy` (facts become findings) → `output` (sinks).
//! `engine` wires one pass; `analyze` drives it over capture files; `memory` is the
//! budget every input-grown buffer draws from.

#![forbid(unsafe_code)]
// Every byte comes from the wire: no unwrap, expect or panic outside tests.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod analyze;
pub mod build;
pub mod capture;
pub mod config;
pub mod decode;
pub mod engine;
pub mod flow;
pub mod fuzzing;
#[cfg(feature = "live")]
pub mod live;
pub mod memory;
pub mod output;
pub mod personal_data;
pub mod policy;
pub mod protocols;
pub mod setup;
pub mod severity;
pub mod signatures;
pub mod threads;
pub mod timestamp;
pub mod toml_location;
pub mod workers;
