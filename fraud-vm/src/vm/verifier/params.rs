//! The machine's fixed parameters: tree depths, the set-member value, the EIP-2929 access
//! costs and the stack limit.

use alloy_primitives::B256;

pub use crate::merkle::DATA_DEPTH;

/// Depth of the block-hash tree (256 leaves; block `n`'s hash at leaf `n mod 256`).
pub const BLOCK_HASH_DEPTH: usize = 8;

/// Every block's `BLOBBASEFEE` (the L2 carries no blobs: excess blob gas is always zero).
pub const BLOB_BASE_FEE: u64 = 1;

/// Blocks the block-hash window holds (`BLOCKHASH` reaches the last 256).
pub const BLOCK_HASH_WINDOW: u64 = 1 << BLOCK_HASH_DEPTH;

/// Value of a member of a set tree (accessed addresses, accessed slots, created accounts).
pub const SET_MEMBER: B256 = B256::with_last_byte(1);

/// Gas of a warm account or slot access (EIP-2929).
pub const WARM_ACCESS: u64 = 100;
/// Gas of a cold account access (EIP-2929).
pub const COLD_ACCOUNT_ACCESS: u64 = 2_600;
/// Gas of a cold storage read (EIP-2929).
pub const COLD_SLOAD: u64 = 2_100;

/// Maximum number of stack items.
pub const STACK_LIMIT: u64 = 1024;
