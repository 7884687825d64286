// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title Stopwatch
/// @notice A call whose gas depends on the block it lands in, as Uniswap V2's price
/// accumulators do: {tick} records every new second in fresh storage slots, so a tick in a
/// later second than the last one costs ~45k gas more than one in the same second.
/// @dev Test-only: checks that `eth_estimateGas` estimates against the block a transaction
/// lands in.
contract Stopwatch {
    /// @notice Timestamp of the last block that ticked.
    uint256 public lastTick;
    /// @notice Number of ticks so far.
    uint256 public ticks;
    /// @notice The block number of the first tick at each timestamp.
    mapping(uint256 => uint256) public blockAt;
    /// @notice Seconds since the previous ticking second, by timestamp.
    mapping(uint256 => uint256) public elapsedAt;

    /// @notice Counts a tick; the first tick of a new second records it.
    function tick() external {
        if (block.timestamp != lastTick) {
            blockAt[block.timestamp] = block.number;
            elapsedAt[block.timestamp] = block.timestamp - lastTick;
            lastTick = block.timestamp;
        }
        ticks += 1;
    }
}
