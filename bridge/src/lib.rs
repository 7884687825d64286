//! Deposits and withdrawals between L1 and the L2: client library and CLI.
//!
//! Not built yet: it arrives with the L1 contracts and derivation (issue "L1 devnet and
//! bridge"). The crate exists so the workspace layout is complete.
