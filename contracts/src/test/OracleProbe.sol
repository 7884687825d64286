// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title OracleProbe
/// @notice A stand-in for the derivation program that asks the derivation oracle every kind of
/// question (`fraud_vm::vm::l1_oracle`) along the path the program takes: the claim's context,
/// the cursor's preimage, the accumulator and commitment of the batch it opens, the delayed
/// accumulator that commitment names, the parent header, the batch bytes themselves; then
/// malformed queries (which fail) and an ordinary call to the oracle's address. It returns
/// the hash of every answer and the outcome of every failing query.
/// @dev Test-only: run as the program of a derivation trace in `fraud-vm/tests/step_machine.rs`.
/// Its call data is the batch's data, as the open step gives it to the program.
contract OracleProbe {
    address private constant ORACLE = 0x000000000000000000000000000000000000de72;

    /// @notice The oracle could not answer a query this probe expected an answer to.
    error NoAnswer(bytes query);
    /// @notice An answer does not hash to what it is the preimage of.
    error WrongAnswer(bytes32 expected);

    fallback(bytes calldata batch) external returns (bytes memory) {
        // The hash of every answer, in the order asked.
        bytes32[8] memory heard;
        bytes memory context = ask(abi.encodeWithSignature("context()"));
        heard[0] = keccak256(context);
        (bytes32 parentHash, bytes32 cursorHash) = abi.decode(context, (bytes32, bytes32));
        bytes memory cursor = preimage(cursorHash);
        heard[1] = cursorHash;
        uint256 batchIndex = uint64(uint256(slice(cursor, 0)));
        bytes32 acc = bytes32(ask(abi.encodeWithSignature("batchAcc(uint256)", batchIndex + 1)));
        heard[2] = acc;
        bytes memory commitment = preimage(acc);
        heard[3] = acc;
        uint256 delayedRead = uint256(slice(commitment, 3 * 32));
        heard[4] = bytes32(ask(abi.encodeWithSignature("delayedAcc(uint256)", delayedRead)));
        if (heard[4] != slice(commitment, 4 * 32)) revert WrongAnswer(heard[4]);
        heard[5] = keccak256(preimage(parentHash));
        heard[6] = keccak256(preimage(keccak256(batch)));
        heard[7] = copyOut(abi.encodeWithSignature("preimage(bytes32)", cursorHash), 96);

        bool[5] memory failed = [
            fails(abi.encodeWithSignature("batchAcc(uint256)", uint256(1) << 64), 10_000),
            fails(abi.encodePacked(abi.encodeWithSignature("context()"), uint8(0)), 10_000),
            fails(abi.encodeWithSignature("noSuchQuery(bytes32)", acc), 10_000),
            fails(abi.encodeWithSignature("preimage(bytes32)"), 10_000),
            // Too little gas for the answer (3 per word).
            fails(abi.encodeWithSignature("preimage(bytes32)", keccak256(batch)), 50)
        ];
        (bool plain, bytes memory nothing) = ORACLE.call(abi.encodeWithSignature("context()"));
        return abi.encode(heard, failed, plain && nothing.length == 0);
    }

    function ask(bytes memory query) private view returns (bytes memory answer) {
        bool ok;
        (ok, answer) = ORACLE.staticcall(query);
        if (!ok) revert NoAnswer(query);
    }

    function preimage(bytes32 hash) private view returns (bytes memory bytes_) {
        bytes_ = ask(abi.encodeWithSignature("preimage(bytes32)", hash));
        if (keccak256(bytes_) != hash) revert WrongAnswer(hash);
    }

    /// @dev A malformed query fails as a failing precompile does, consuming the gas sent with it.
    function fails(bytes memory query, uint256 gas) private view returns (bool) {
        (bool ok, bytes memory answer) = ORACLE.staticcall{gas: gas}(query);
        return !ok && answer.length == 0;
    }

    /// @dev Asks with an output area of `len` bytes, so the call itself copies the answer into
    ///      memory, and returns the hash of that area.
    function copyOut(bytes memory query, uint256 len) private view returns (bytes32 hash) {
        bool ok;
        assembly {
            let out := mload(0x40)
            ok := staticcall(gas(), ORACLE, add(query, 32), mload(query), out, len)
            hash := keccak256(out, len)
        }
        if (!ok) revert NoAnswer(query);
    }

    function slice(bytes memory data, uint256 offset) private pure returns (bytes32 word) {
        assembly {
            word := mload(add(add(data, 32), offset))
        }
    }
}
