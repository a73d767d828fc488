//! Shared helpers of the opml-chain integration tests.
#![allow(dead_code, unreachable_pub)]

pub mod vectors;
