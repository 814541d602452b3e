//! Small helpers with no domain knowledge, shared by every layer: the one-line rendering
//! of an error chain ([`error_chain`]) and did-you-mean suggestions ([`similar`]).

pub mod error_chain;
pub mod similar;
