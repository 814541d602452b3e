//! Detection after the keyword match, all pure: the four Art. 7 flags from cue lists
//! ([`flags`]), negativity ([`sentiment`]), 歪曲 by comparison with the bureau's own
//! publications ([`distortion`]), near-duplicate clustering with story identity
//! ([`cluster`]), the index that decides which event a matched document joins
//! ([`events`]) and the grouping of an event's comments into viewpoints ([`viewpoints`]). None reads the clock, the store or the network.

pub mod cluster;
pub mod distortion;
pub mod events;
pub mod flags;
pub mod sentiment;
pub mod viewpoints;
