//! yuqing — a public-opinion (舆情) monitoring daemon for a city government bureau.
//!
//! Data flow (imports only point down this list):
//!
//! ```text
//! cli ─► daemon ─► pipeline ─► fetch ─► extract ─► matcher ─► store ─► notify
//!   │        │          (one source, top to bottom:            ▲
//!   │        │           fetch → decode → parse → normalise →  │
//!   │        │           dedup → match → store in one tx)      │
//!   │        └─ outbox worker ─────────────────────────────────┘
//!   └─ config (raw TOML → validated `Config`, every error with file:line)
//! ```
//!
//! `model` holds plain data shared by all stages; `schedule` turns crontab lines into due
//! times. Pure stages (`extract`, `matcher`, `schedule`) never read the clock or do I/O.

pub mod analysis;
pub mod briefing;
pub mod calendar;
pub mod channel;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod daemon;
pub mod delivery;
pub mod digest;
pub mod disk;
pub mod distortion;
pub mod error_chain;
pub mod escalation;
pub mod events;
pub mod extract;
pub mod fanout;
pub mod fetch;
pub mod flags;
pub mod links;
pub mod matcher;
pub mod metrics;
pub mod model;
pub mod notify;
pub mod pipeline;
pub mod reload;
pub mod report;
pub mod response;
pub mod rules;
pub mod rumour;
pub mod schedule;
pub mod sentiment;
pub mod similar;
pub mod store;
pub mod web;
pub mod workflow;
