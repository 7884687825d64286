// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.37;

/// @title DerivationOracle
/// @notice The derivation program's queries to the derivation oracle (`fraud_vm::vm::l1_oracle`):
///         while the program runs, a `STATICCALL` to {ORACLE} is answered by the step machine
///         in the call step, with raw bytes (not ABI-encoded) as the return data.
/// @dev The program asks only for what an honest prover can answer (preimages of hashes read
///      from committed data, accumulator indices the Inbox holds); a query with no answer has
///      no step at all, and a call that fails (a malformed query, too little gas for the
///      answer) reverts the run. Every preimage is checked against its hash
///      here too, although the oracle step already checks it: a malformed answer reverts, it is
///      never misread.
library DerivationOracle {
    /// @notice The oracle's address (`fraud_vm::vm::open::ORACLE`).
    address internal constant ORACLE = 0x000000000000000000000000000000000000de72;

    /// @notice The oracle did not answer the query with `selector`.
    error NoAnswer(bytes4 selector);
    /// @notice An answer is not of the query's shape: a context or accumulator of another
    ///         length, or a preimage that does not hash to what was asked.
    error WrongAnswer(bytes4 selector);

    /// @notice `context()`: the claim's block hash (the parent of the block to derive) and its
    ///         cursor's hash.
    function context() internal view returns (bytes32 parentHash, bytes32 cursorHash) {
        bytes memory answer = ask(abi.encodeWithSignature("context()"));
        if (answer.length != 64) revert WrongAnswer(bytes4(keccak256("context()")));
        (parentHash, cursorHash) = abi.decode(answer, (bytes32, bytes32));
    }

    /// @notice `preimage(hash)`: the bytes whose `keccak256` is `hash`.
    function preimage(bytes32 hash) internal view returns (bytes memory answer) {
        answer = ask(abi.encodeWithSignature("preimage(bytes32)", hash));
        if (keccak256(answer) != hash) revert WrongAnswer(bytes4(keccak256("preimage(bytes32)")));
    }

    /// @notice `batchAcc(index)`: `Inbox.batchAcc(index)`, the batch accumulator after `index`
    ///         batches.
    function batchAcc(uint256 index) internal view returns (bytes32) {
        bytes memory answer = ask(abi.encodeWithSignature("batchAcc(uint256)", index));
        if (answer.length != 32) revert WrongAnswer(bytes4(keccak256("batchAcc(uint256)")));
        return bytes32(answer);
    }

    /// @notice `delayedAcc(index)`: `Inbox.delayedAcc(index)`, the delayed-message accumulator
    ///         after `index` messages.
    function delayedAcc(uint256 index) internal view returns (bytes32) {
        bytes memory answer = ask(abi.encodeWithSignature("delayedAcc(uint256)", index));
        if (answer.length != 32) revert WrongAnswer(bytes4(keccak256("delayedAcc(uint256)")));
        return bytes32(answer);
    }

    /// @notice The oracle's answer to `query`; reverts with {NoAnswer} when the call fails.
    function ask(bytes memory query) private view returns (bytes memory answer) {
        bool ok;
        (ok, answer) = ORACLE.staticcall(query);
        if (!ok) revert NoAnswer(bytes4(query));
    }
}
