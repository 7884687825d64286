//! The Cancun opcode table: name, family, stack inputs and outputs, static gas.

/// Which verifier module executes an opcode (a Solidity port is to mirror each family with one
/// contract).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    /// `ADD` … `SIGNEXTEND`.
    Arith,
    /// `LT` … `SAR`.
    CompareBitwise,
    /// `KECCAK256` (sponge micro-steps).
    Keccak,
    /// Frame and transaction environment: `ADDRESS`, `CALLER`, `CALLDATALOAD`, …
    Env,
    /// Block environment: `BLOCKHASH`, `COINBASE`, `TIMESTAMP`, …
    BlockInfo,
    /// `POP`, `MLOAD`, `MSTORE`, `MSTORE8`, `MSIZE`, `PUSH*`, `DUP*`, `SWAP*`.
    StackMemory,
    /// `JUMP`, `JUMPI`, `PC`, `GAS`, `JUMPDEST`.
    Flow,
    /// `STOP`, `RETURN`, `REVERT`.
    Halt,
    /// Bulk copies (micro-stepped): `CALLDATACOPY`, `CODECOPY`, `RETURNDATACOPY`, `MCOPY`, …
    Copy,
    /// Account reads: `BALANCE`, `SELFBALANCE`, `EXTCODESIZE`, `EXTCODEHASH`.
    Account,
    /// Storage: `SLOAD`, `SSTORE`, `TLOAD`, `TSTORE`.
    Storage,
    /// `LOG0` … `LOG4`.
    Log,
    /// `CALL`, `CALLCODE`, `DELEGATECALL`, `STATICCALL`, `CREATE`, `CREATE2`, `SELFDESTRUCT`.
    CallCreate,
}

/// Static facts about one opcode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpInfo {
    /// Mnemonic.
    pub name: &'static str,
    /// Executing family.
    pub family: Family,
    /// Stack items read (popped).
    pub pops: u64,
    /// Stack items written (pushed).
    pub pushes: u64,
    /// Gas charged before anything else.
    pub gas: u64,
}

const fn op(name: &'static str, family: Family, pops: u64, pushes: u64, gas: u64) -> OpInfo {
    OpInfo {
        name,
        family,
        pops,
        pushes,
        gas,
    }
}

/// Mnemonics of `PUSH1`..`PUSH32`, `DUP1`..`DUP16`, `SWAP1`..`SWAP16`, `LOG0`..`LOG4`.
const PUSH_NAMES: [&str; 32] = [
    "PUSH1", "PUSH2", "PUSH3", "PUSH4", "PUSH5", "PUSH6", "PUSH7", "PUSH8", "PUSH9", "PUSH10",
    "PUSH11", "PUSH12", "PUSH13", "PUSH14", "PUSH15", "PUSH16", "PUSH17", "PUSH18", "PUSH19",
    "PUSH20", "PUSH21", "PUSH22", "PUSH23", "PUSH24", "PUSH25", "PUSH26", "PUSH27", "PUSH28",
    "PUSH29", "PUSH30", "PUSH31", "PUSH32",
];
const DUP_NAMES: [&str; 16] = [
    "DUP1", "DUP2", "DUP3", "DUP4", "DUP5", "DUP6", "DUP7", "DUP8", "DUP9", "DUP10", "DUP11",
    "DUP12", "DUP13", "DUP14", "DUP15", "DUP16",
];
const SWAP_NAMES: [&str; 16] = [
    "SWAP1", "SWAP2", "SWAP3", "SWAP4", "SWAP5", "SWAP6", "SWAP7", "SWAP8", "SWAP9", "SWAP10",
    "SWAP11", "SWAP12", "SWAP13", "SWAP14", "SWAP15", "SWAP16",
];
const LOG_NAMES: [&str; 5] = ["LOG0", "LOG1", "LOG2", "LOG3", "LOG4"];

/// The opcode's static facts, or `None` for an undefined opcode (including `INVALID`, 0xFE).
pub fn info(opcode: u8) -> Option<OpInfo> {
    use Family::*;
    Some(match opcode {
        0x00 => op("STOP", Halt, 0, 0, 0),
        0x01 => op("ADD", Arith, 2, 1, 3),
        0x02 => op("MUL", Arith, 2, 1, 5),
        0x03 => op("SUB", Arith, 2, 1, 3),
        0x04 => op("DIV", Arith, 2, 1, 5),
        0x05 => op("SDIV", Arith, 2, 1, 5),
        0x06 => op("MOD", Arith, 2, 1, 5),
        0x07 => op("SMOD", Arith, 2, 1, 5),
        0x08 => op("ADDMOD", Arith, 3, 1, 8),
        0x09 => op("MULMOD", Arith, 3, 1, 8),
        0x0a => op("EXP", Arith, 2, 1, 10),
        0x0b => op("SIGNEXTEND", Arith, 2, 1, 5),
        0x10 => op("LT", CompareBitwise, 2, 1, 3),
        0x11 => op("GT", CompareBitwise, 2, 1, 3),
        0x12 => op("SLT", CompareBitwise, 2, 1, 3),
        0x13 => op("SGT", CompareBitwise, 2, 1, 3),
        0x14 => op("EQ", CompareBitwise, 2, 1, 3),
        0x15 => op("ISZERO", CompareBitwise, 1, 1, 3),
        0x16 => op("AND", CompareBitwise, 2, 1, 3),
        0x17 => op("OR", CompareBitwise, 2, 1, 3),
        0x18 => op("XOR", CompareBitwise, 2, 1, 3),
        0x19 => op("NOT", CompareBitwise, 1, 1, 3),
        0x1a => op("BYTE", CompareBitwise, 2, 1, 3),
        0x1b => op("SHL", CompareBitwise, 2, 1, 3),
        0x1c => op("SHR", CompareBitwise, 2, 1, 3),
        0x1d => op("SAR", CompareBitwise, 2, 1, 3),
        0x20 => op("KECCAK256", Keccak, 2, 1, 30),
        0x30 => op("ADDRESS", Env, 0, 1, 2),
        0x31 => op("BALANCE", Account, 1, 1, 0),
        0x32 => op("ORIGIN", Env, 0, 1, 2),
        0x33 => op("CALLER", Env, 0, 1, 2),
        0x34 => op("CALLVALUE", Env, 0, 1, 2),
        0x35 => op("CALLDATALOAD", Env, 1, 1, 3),
        0x36 => op("CALLDATASIZE", Env, 0, 1, 2),
        0x37 => op("CALLDATACOPY", Copy, 3, 0, 3),
        0x38 => op("CODESIZE", Env, 0, 1, 2),
        0x39 => op("CODECOPY", Copy, 3, 0, 3),
        0x3a => op("GASPRICE", Env, 0, 1, 2),
        0x3b => op("EXTCODESIZE", Account, 1, 1, 0),
        0x3c => op("EXTCODECOPY", Copy, 4, 0, 0),
        0x3d => op("RETURNDATASIZE", Env, 0, 1, 2),
        0x3e => op("RETURNDATACOPY", Copy, 3, 0, 3),
        0x3f => op("EXTCODEHASH", Account, 1, 1, 0),
        0x40 => op("BLOCKHASH", BlockInfo, 1, 1, 20),
        0x41 => op("COINBASE", BlockInfo, 0, 1, 2),
        0x42 => op("TIMESTAMP", BlockInfo, 0, 1, 2),
        0x43 => op("NUMBER", BlockInfo, 0, 1, 2),
        0x44 => op("PREVRANDAO", BlockInfo, 0, 1, 2),
        0x45 => op("GASLIMIT", BlockInfo, 0, 1, 2),
        0x46 => op("CHAINID", BlockInfo, 0, 1, 2),
        0x47 => op("SELFBALANCE", Account, 0, 1, 5),
        0x48 => op("BASEFEE", BlockInfo, 0, 1, 2),
        0x49 => op("BLOBHASH", BlockInfo, 1, 1, 3),
        0x4a => op("BLOBBASEFEE", BlockInfo, 0, 1, 2),
        0x50 => op("POP", StackMemory, 1, 0, 2),
        0x51 => op("MLOAD", StackMemory, 1, 1, 3),
        0x52 => op("MSTORE", StackMemory, 2, 0, 3),
        0x53 => op("MSTORE8", StackMemory, 2, 0, 3),
        0x54 => op("SLOAD", Storage, 1, 1, 0),
        0x55 => op("SSTORE", Storage, 2, 0, 0),
        0x56 => op("JUMP", Flow, 1, 0, 8),
        0x57 => op("JUMPI", Flow, 2, 0, 10),
        0x58 => op("PC", Flow, 0, 1, 2),
        0x59 => op("MSIZE", StackMemory, 0, 1, 2),
        0x5a => op("GAS", Flow, 0, 1, 2),
        0x5b => op("JUMPDEST", Flow, 0, 0, 1),
        0x5c => op("TLOAD", Storage, 1, 1, 100),
        0x5d => op("TSTORE", Storage, 2, 0, 100),
        0x5e => op("MCOPY", Copy, 3, 0, 3),
        0x5f => op("PUSH0", StackMemory, 0, 1, 2),
        0x60..=0x7f => op(PUSH_NAMES[(opcode - 0x60) as usize], StackMemory, 0, 1, 3),
        0x80..=0x8f => {
            let n = (opcode - 0x7f) as u64;
            op(DUP_NAMES[(n - 1) as usize], StackMemory, n, n + 1, 3)
        }
        0x90..=0x9f => {
            let n = (opcode - 0x8f) as u64;
            op(SWAP_NAMES[(n - 1) as usize], StackMemory, n + 1, n + 1, 3)
        }
        0xa0..=0xa4 => {
            let n = (opcode - 0xa0) as u64;
            op(LOG_NAMES[n as usize], Log, n + 2, 0, 375 * (n + 1))
        }
        0xf0 => op("CREATE", CallCreate, 3, 1, 32000),
        0xf1 => op("CALL", CallCreate, 7, 1, 0),
        0xf2 => op("CALLCODE", CallCreate, 7, 1, 0),
        0xf3 => op("RETURN", Halt, 2, 0, 0),
        0xf4 => op("DELEGATECALL", CallCreate, 6, 1, 0),
        0xf5 => op("CREATE2", CallCreate, 4, 1, 32000),
        0xfa => op("STATICCALL", CallCreate, 6, 1, 0),
        0xfd => op("REVERT", Halt, 2, 0, 0),
        0xff => op("SELFDESTRUCT", CallCreate, 1, 0, 5000),
        _ => return None,
    })
}

/// The mnemonic of any byte (`INVALID` for undefined opcodes).
pub fn name(opcode: u8) -> &'static str {
    info(opcode).map_or("INVALID", |i| i.name)
}

/// Every defined Cancun opcode.
pub fn all() -> impl Iterator<Item = u8> {
    (0..=255u8).filter(|op| info(*op).is_some())
}
