// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.37;

import {Header} from "./Header.sol";

/// @title BaseFee
/// @notice The EIP-1559 base fee of the block after a parent, as the node computes it:
///         `fraud_vm::chain::next_base_fee` on the parent's `gasUsed`, `gasLimit` and
///         `baseFeePerGas` (alloy's `calc_next_block_base_fee` where that is defined), and 0
///         when the parent has no base fee (`ChainSpec::next_base_fee`).
/// @dev The parameters are the chain's: `ChainGenesis::from_genesis` (`fraud-vm/src/chain.rs`)
///      sets `base_fee_params = BaseFeeParams::ethereum()` for every chain, whatever the genesis
///      says, so they are constants here. Arithmetic is alloy's: the target is
///      `gasLimit / ELASTICITY_MULTIPLIER`; a target of 0 or a block at target keeps the base
///      fee; above target it rises by `max(1, baseFee·(gasUsed − target) / (target·8))`, below
///      it falls by `baseFee·(target − gasUsed) / (target·8)` (never below 0). Inputs are
///      `u64`; the raised fee saturates at `2^64 − 1`.
library BaseFee {
    /// @notice `BaseFeeParams::ethereum().elasticity_multiplier`
    ///         (`alloy_eips::eip1559::DEFAULT_ELASTICITY_MULTIPLIER`).
    uint256 internal constant ELASTICITY_MULTIPLIER = 2;

    /// @notice `BaseFeeParams::ethereum().max_change_denominator`
    ///         (`alloy_eips::eip1559::DEFAULT_BASE_FEE_MAX_CHANGE_DENOMINATOR`).
    uint256 internal constant MAX_CHANGE_DENOMINATOR = 8;

    /// @notice The base fee after a block that used `gasUsed` of `gasLimit` at `baseFee`
    ///         (`chain::next_base_fee`; all three at most `2^64 − 1`).
    function next(uint256 gasUsed, uint256 gasLimit, uint256 baseFee) internal pure returns (uint256) {
        uint256 target = gasLimit / ELASTICITY_MULTIPLIER;
        if (target == 0 || gasUsed == target) return baseFee;
        if (gasUsed > target) {
            uint256 rise = baseFee * (gasUsed - target) / (target * MAX_CHANGE_DENOMINATOR);
            if (rise == 0) rise = 1;
            // Saturates at `u64::MAX` (`chain::next_base_fee`).
            uint256 raised = baseFee + rise;
            return raised > type(uint64).max ? type(uint64).max : raised;
        }
        // The fall is below `baseFee / 8`: no saturation is needed, nor a cast.
        return baseFee - baseFee * (target - gasUsed) / (target * MAX_CHANGE_DENOMINATOR);
    }

    /// @notice The base fee of the block after `parent`: {next} of its fields, 0 when it has no
    ///         base fee (a pre-London header).
    function afterParent(Header.Fields memory parent) internal pure returns (uint256) {
        if (parent.optional.count == 0) return 0;
        return next(parent.gasUsed, parent.gasLimit, parent.optional.baseFeePerGas);
    }
}
