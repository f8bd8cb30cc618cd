//! One module per top-level command.

pub mod access;
pub mod alerting;
pub mod audit;
pub mod break_glass;
pub mod catalog;
pub mod demo;
pub mod init;
pub mod login;
pub mod policy;
pub mod request;
pub mod role;
pub mod serve;
pub mod target;
pub mod user;
