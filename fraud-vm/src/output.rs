//! Output roots: what a proposer posts to L1 for an L2 block (filled in by the L1 contracts work).
