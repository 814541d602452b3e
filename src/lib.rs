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
