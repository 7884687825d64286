//! Cross-domain messages: deposits (L1 → L2) and withdrawals (L2 → L1) (filled in by the L1 contracts work).
