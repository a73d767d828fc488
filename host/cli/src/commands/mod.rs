//! The subcommands.

pub(crate) mod check;
pub(crate) mod codec;
pub(crate) mod demo;
pub(crate) mod fixture;
pub(crate) mod inspect;
pub(crate) mod model;
pub(crate) mod new;
pub(crate) mod node;
pub(crate) mod requester;
pub(crate) mod run;
pub(crate) mod tour;
pub(crate) mod verify_build;
