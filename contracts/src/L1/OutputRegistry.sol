// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.37;

/// @title OutputRegistry
/// @notice Output-root proposals. Anyone proposes an output root (see `fraud_vm::output`) for an
///         L2 block with a bond; it finalizes once `challengeWindow` seconds have passed without
///         the `resolver` (the dispute game) invalidating it. The bond goes to the resolver on
///         invalidation, back to the proposer (via {claimBond}) after finalization.
contract OutputRegistry {
    /// @notice `msg.value` differs from the required bond.
    error WrongBond(uint256 sent, uint256 required);
    /// @notice The proposal's L2 block number is not above the latest valid proposal's.
    error BlockNumberNotIncreasing(uint256 l2BlockNumber, uint256 latest);
    /// @notice The output root is zero.
    error ZeroOutputRoot();
    /// @notice No output at this index.
    error OutputNotFound(uint256 index);
    /// @notice Only the resolver may invalidate outputs.
    error NotResolver();
    /// @notice The output was already invalidated.
    error OutputAlreadyInvalidated(uint256 index);
    /// @notice The output is finalized (no longer invalidatable).
    error AlreadyFinalized(uint256 index);
    /// @notice The output is not finalized (window not elapsed, or invalidated).
    error OutputNotFinalized(uint256 index);
    /// @notice The bond of this output was already paid out.
    error BondAlreadyClaimed(uint256 index);
    /// @notice Sending the bond failed.
    error BondTransferFailed();

    /// @notice Output `index` was proposed.
    event OutputProposed(
        uint256 indexed index, address indexed proposer, uint256 indexed l2BlockNumber, bytes32 outputRoot, uint64 timestamp
    );
    /// @notice Output `index` was invalidated; its bond went to the resolver.
    event OutputInvalidated(uint256 indexed index, address indexed resolver, uint256 bond);
    /// @notice The bond of finalized output `index` was paid back to its proposer.
    event BondClaimed(uint256 indexed index, address indexed proposer, uint256 bond);

    /// @notice Lifecycle of a proposal (finalization is derived from the time).
    enum Status {
        None,
        Proposed,
        Invalidated
    }

    /// @notice A proposal.
    struct Output {
        bytes32 outputRoot;
        address proposer;
        uint64 timestamp;
        uint64 l2BlockNumber;
        Status status;
        bool bondClaimed;
    }

    /// @notice Wei each proposal must bond.
    uint256 public immutable bond;
    /// @notice Seconds after its proposal at which an output finalizes.
    uint256 public immutable challengeWindow;
    /// @notice The only address that may invalidate outputs (the dispute game).
    address public immutable resolver;

    Output[] private _outputs;

    constructor(uint256 bond_, uint256 challengeWindow_, address resolver_) {
        bond = bond_;
        challengeWindow = challengeWindow_;
        resolver = resolver_;
    }

    /// @notice Proposes `outputRoot` for L2 block `l2BlockNumber`, bonding exactly {bond} wei.
    ///         Block numbers strictly increase over the proposals that are not invalidated.
    /// @return index The proposal's index.
    function propose(uint256 l2BlockNumber, bytes32 outputRoot) external payable returns (uint256 index) {
        if (msg.value != bond) revert WrongBond(msg.value, bond);
        if (outputRoot == bytes32(0)) revert ZeroOutputRoot();
        (bool any, uint256 latest) = latestL2BlockNumber();
        if (any && l2BlockNumber <= latest) revert BlockNumberNotIncreasing(l2BlockNumber, latest);
        if (l2BlockNumber > type(uint64).max) revert BlockNumberNotIncreasing(l2BlockNumber, latest);
        index = _outputs.length;
        _outputs.push(
            Output({
                outputRoot: outputRoot,
                proposer: msg.sender,
                timestamp: uint64(block.timestamp),
                l2BlockNumber: uint64(l2BlockNumber),
                status: Status.Proposed,
                bondClaimed: false
            })
        );
        emit OutputProposed(index, msg.sender, l2BlockNumber, outputRoot, uint64(block.timestamp));
    }

    /// @notice Invalidates output `index` (only the resolver, before it finalizes) and sends its
    ///         bond to the resolver.
    function invalidate(uint256 index) external {
        if (msg.sender != resolver) revert NotResolver();
        Output storage o = _get(index);
        if (o.status == Status.Invalidated) revert OutputAlreadyInvalidated(index);
        if (isFinalized(index)) revert AlreadyFinalized(index);
        o.status = Status.Invalidated;
        o.bondClaimed = true;
        emit OutputInvalidated(index, msg.sender, bond);
        (bool ok,) = msg.sender.call{value: bond}("");
        if (!ok) revert BondTransferFailed();
    }

    /// @notice Pays the bond of finalized output `index` back to its proposer (anyone, once).
    function claimBond(uint256 index) external {
        Output storage o = _get(index);
        if (!isFinalized(index)) revert OutputNotFinalized(index);
        if (o.bondClaimed) revert BondAlreadyClaimed(index);
        o.bondClaimed = true;
        emit BondClaimed(index, o.proposer, bond);
        (bool ok,) = o.proposer.call{value: bond}("");
        if (!ok) revert BondTransferFailed();
    }

    /// @notice Whether output `index` is final: proposed, not invalidated, and at least
    ///         {challengeWindow} seconds old.
    function isFinalized(uint256 index) public view returns (bool) {
        if (index >= _outputs.length) return false;
        Output storage o = _outputs[index];
        return o.status == Status.Proposed && block.timestamp >= uint256(o.timestamp) + challengeWindow;
    }

    /// @notice Whether output `index` was invalidated.
    function isInvalidated(uint256 index) external view returns (bool) {
        return index < _outputs.length && _outputs[index].status == Status.Invalidated;
    }

    /// @notice Output `index` (reverts {OutputNotFound} if there is none).
    function getOutput(uint256 index) external view returns (Output memory) {
        return _get(index);
    }

    /// @notice Number of proposals (including invalidated ones).
    function outputCount() external view returns (uint256) {
        return _outputs.length;
    }

    /// @notice The L2 block number of the latest proposal that is not invalidated.
    /// @return any Whether there is such a proposal.
    function latestL2BlockNumber() public view returns (bool any, uint256 l2BlockNumber) {
        for (uint256 i = _outputs.length; i > 0; i--) {
            Output storage o = _outputs[i - 1];
            if (o.status != Status.Invalidated) return (true, o.l2BlockNumber);
        }
        return (false, 0);
    }

    function _get(uint256 index) private view returns (Output storage) {
        if (index >= _outputs.length) revert OutputNotFound(index);
        return _outputs[index];
    }
}
