//! The gateway's scenario tests: each starts a gateway on a free loopback
//! port over a fresh store and talks to it with clients nobody here wrote.

mod common;
mod integration;
mod limits;
mod oss_clients;
mod principals;
mod python_clients;
mod s3_tests;
mod shutdown;
mod tls;
