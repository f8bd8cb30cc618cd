//! One module per top-level command.

pub mod audit;
pub mod demo;
pub mod init;
pub mod login;
pub mod policy;
pub mod role;
pub mod serve;
pub mod target;
pub mod user;
