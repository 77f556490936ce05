//! Integration tests: the real `beweis` binary against real files, programs, an HTTP server on
//! 127.0.0.1 and real SQLite databases, each test in its own temporary directory.

mod support;

mod advisories;
mod cli;
mod concurrency;
mod crash;
mod daemon;
mod disk_full;
mod tamper;
mod unit_file;
