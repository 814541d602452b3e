//! yuqing — a public-opinion (舆情) monitoring daemon for a city government bureau.
//!
//! The stages, in the order an item passes them (each folder is one):
//!
//! ```text
//!  fetch ─► extract ─► matcher ─► detect ─► store ─► deliver ─► notify / channel
//!  (HTTP,   (charset,  (rules,    (flags,    (SQLite, (fanout,    (SMTP, .eml;
//!   files)   feeds,     one        rumour,    one tx   escalation, SMS, IM
//!            pages,     automaton) sentiment, per run) digest,     robots)
//!            exports)             distortion,         session)
//!                                 events)      ▲
//!                  response: grade, route, deadline — on the event, before it is stored
//!  pipeline: one source top to bottom (fetch → … → store) · workflow: accept … split
//!  report: Art. 10 briefings, Art. 15 assessment · daemon: scheduler, reload, web, systemd
//! ```
//!
//! Layers (imports only point down; `tests/layers.rs` fails on any other import or on an
//! import circle):
//!
//! ```text
//!  edge           cli                      the only code that prints or picks exit codes
//!  runtime        daemon                   scheduler, outbox worker, reload, web, lock
//!  stages         pipeline deliver report workflow   compose the parts below
//!  configuration  config                   raw TOML → validated Config (file:line errors)
//!  adapters       fetch store notify channel         I/O; never import each other
//!  engines        extract rules matcher detect rumour response time   pure
//!  plain data     model util               no imports
//! ```

pub mod channel;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod deliver;
pub mod detect;
pub mod extract;
pub mod fetch;
pub mod matcher;
pub mod model;
pub mod notify;
pub mod pipeline;
pub mod report;
pub mod response;
pub mod rules;
pub mod rumour;
pub mod store;
pub mod time;
pub mod util;
pub mod workflow;
