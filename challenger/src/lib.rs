//! The challenger watchdog: watches output proposals, disputes wrong ones, bisects, proves.
//!
//! Not built yet: it follows the fraud VM and the dispute game. The crate exists so the
//! workspace layout is complete.
