// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.37;

/// @title SparseMerkleTree
/// @notice Verifier for the L2 state tree: the keccak binary sparse Merkle tree of
///         `fraud_vm::smt` (see `fraud-vm/src/smt/mod.rs`, the specification this library
///         implements exactly, and `contracts/README.md`).
/// @dev Tree shape: keys are 256-bit, bit `d` (most significant first) chooses the child at
///      depth `d` (0 = left, 1 = right). Empty subtree = `0`; a subtree holding one leaf is
///      collapsed to `keccak256(0x00 ‖ key ‖ value)` (65-byte preimage); any other subtree is
///      `keccak256(left ‖ right)` (64-byte preimage).
///
///      Proof byte encoding (`Proof::encode`):
///      ```
///      depth    u16 big-endian, D <= 256
///      flags    u8: bit 0 = leaf present, bit 1 = sibling node present, other bits 0
///      bitmap   ceil(D / 8) bytes; bit for depth d = (bitmap[d / 8] >> (7 - d % 8)) & 1,
///               1 = siblings[d] is non-zero and included below; padding bits 0
///      siblings 32 bytes per set bitmap bit, in depth order, never zero
///      leaf     key (32) ‖ value (32), if flagged
///      sibling  node encoding (65 bytes: 0x00 ‖ key ‖ value or 0x01 ‖ left ‖ right), if flagged
///      ```
///      Every encoding or canonical-form violation that `fraud_vm::smt::Proof::decode`,
///      `check_canonical` or `verify` rejects reverts with {InvalidProof}; accepted proofs give
///      the same results as Rust. Cost: a 64-byte keccak over scratch memory per level plus a
///      constant decode overhead (see `contracts/README.md` for measured gas).
library SparseMerkleTree {
    /// @notice The proof is malformed, not canonical for the key, or does not hash to the root.
    error InvalidProof();

    /// @dev A decoded proof. Siblings stay in the proof bytes and are read bottom-up.
    struct Decoded {
        uint256 depth;
        /// Sibling bitmap, left-aligned: depth `d` is bit `255 - d`.
        uint256 bitmap;
        /// Memory pointer one past the last sibling.
        uint256 siblingsEnd;
        bool hasLeaf;
        bytes32 leafKey;
        bytes32 leafValue;
        bool hasSiblingNode;
        /// The sibling node is a leaf (tag 0x00) rather than an internal node.
        bool siblingIsLeaf;
    }

    /// @notice Verifies `proof` for `key` against `root`.
    /// @return present Whether `key` is in the tree.
    /// @return value The value at `key` (zero if absent).
    function verify(bytes32 root, bytes32 key, bytes memory proof)
        internal
        pure
        returns (bool present, bytes32 value)
    {
        Decoded memory p = _decode(proof, key);
        (present, value) = _shown(p, key);
        if (_walk(p, key, present, value) != root) revert InvalidProof();
    }

    /// @notice The root the tree would have if `key` held `newValue` (`present = false`:
    ///         deleted), everything else unchanged. Does not check `proof` against a root:
    ///         call {verify} (or use {verifyAndUpdate}) first.
    function rootWith(bytes32 key, bytes memory proof, bool present, bytes32 newValue)
        internal
        pure
        returns (bytes32)
    {
        Decoded memory p = _decode(proof, key);
        return _walk(p, key, present, newValue);
    }

    /// @notice {verify} against `root`, then {rootWith} for the new value, decoding once.
    /// @return oldPresent Whether `key` was in the tree.
    /// @return oldValue Its old value (zero if absent).
    /// @return newRoot The root after setting (`present`) or deleting (`!present`) `key`.
    function verifyAndUpdate(bytes32 root, bytes32 key, bytes memory proof, bool present, bytes32 newValue)
        internal
        pure
        returns (bool oldPresent, bytes32 oldValue, bytes32 newRoot)
    {
        Decoded memory p = _decode(proof, key);
        (oldPresent, oldValue) = _shown(p, key);
        if (_walk(p, key, oldPresent, oldValue) != root) revert InvalidProof();
        newRoot = _walk(p, key, present, newValue);
    }

    /// @dev The value the proof shows for `key`.
    function _shown(Decoded memory p, bytes32 key) private pure returns (bool present, bytes32 value) {
        if (p.hasLeaf && p.leafKey == key) return (true, p.leafValue);
        return (false, bytes32(0));
    }

    /// @dev Decodes `proof` and checks the canonical-form rules for `key`. Siblings are checked
    ///      to be non-zero in {_walk}, which reads every one of them.
    function _decode(bytes memory proof, bytes32 key) private pure returns (Decoded memory p) {
        bool bad;
        assembly ("memory-safe") {
            let len := mload(proof)
            let ptr := add(proof, 0x20)
            for {} 1 {} {
                if lt(len, 3) {
                    bad := 1
                    break
                }
                let head := mload(ptr)
                let depth := shr(240, head)
                let flags := byte(2, head)
                if or(gt(depth, 256), gt(flags, 3)) {
                    bad := 1
                    break
                }
                let bitmapLen := shr(3, add(depth, 7))
                if lt(len, add(3, bitmapLen)) {
                    bad := 1
                    break
                }
                // Left-aligned bitmap word, masked to its ceil(D / 8) bytes.
                let bm := and(mload(add(ptr, 3)), not(shr(shl(3, bitmapLen), not(0))))
                // Padding bits (depths >= D) must be zero; the deepest sibling must be non-zero.
                if shl(depth, bm) {
                    bad := 1
                    break
                }
                if depth {
                    if iszero(and(shr(sub(256, depth), bm), 1)) {
                        bad := 1
                        break
                    }
                }
                // popcount(bm), in 16-bit lanes so that 256 fits.
                let c := bm
                c := sub(c, and(shr(1, c), 0x5555555555555555555555555555555555555555555555555555555555555555))
                c := add(
                    and(c, 0x3333333333333333333333333333333333333333333333333333333333333333),
                    and(shr(2, c), 0x3333333333333333333333333333333333333333333333333333333333333333)
                )
                c := and(add(c, shr(4, c)), 0x0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f)
                c := and(add(c, shr(8, c)), 0x00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff)
                c := shr(240, mul(c, 0x0001000100010001000100010001000100010001000100010001000100010001))
                let hasLeaf := and(flags, 1)
                let hasNode := shr(1, flags)
                let siblingsEnd := add(add(ptr, add(3, bitmapLen)), shl(5, c))
                if iszero(eq(add(sub(siblingsEnd, ptr), add(mul(hasLeaf, 64), mul(hasNode, 65))), len)) {
                    bad := 1
                    break
                }
                mstore(p, depth)
                mstore(add(p, 0x20), bm)
                mstore(add(p, 0x40), siblingsEnd)
                let membership := 0
                if hasLeaf {
                    let k := mload(siblingsEnd)
                    // The leaf must agree with the key on its first D bits.
                    if shr(sub(256, depth), xor(k, key)) {
                        bad := 1
                        break
                    }
                    membership := eq(k, key)
                    mstore(add(p, 0x60), 1)
                    mstore(add(p, 0x80), k)
                    mstore(add(p, 0xa0), mload(add(siblingsEnd, 0x20)))
                }
                // The sibling node is present iff membership with D > 0.
                if iszero(eq(hasNode, and(membership, gt(depth, 0)))) {
                    bad := 1
                    break
                }
                if hasNode {
                    let node := add(siblingsEnd, 64)
                    let tag := byte(0, mload(node))
                    let h := 0
                    switch tag
                    case 0 {
                        // Leaf: its encoding is its hash preimage. Its key must agree with the key
                        // on the first D - 1 bits and differ at bit D - 1.
                        h := keccak256(node, 65)
                        if iszero(eq(shr(sub(256, depth), xor(mload(add(node, 1)), key)), 1)) {
                            bad := 1
                            break
                        }
                        mstore(add(p, 0xe0), 1)
                    }
                    case 1 { h := keccak256(add(node, 1), 64) }
                    default {
                        bad := 1
                        break
                    }
                    if iszero(eq(h, mload(sub(siblingsEnd, 0x20)))) {
                        bad := 1
                        break
                    }
                    mstore(add(p, 0xc0), 1)
                }
                break
            }
        }
        if (bad) revert InvalidProof();
    }

    /// @dev Selector of {InvalidProof}, for reverts from assembly.
    uint256 private constant INVALID_PROOF_SELECTOR = 0x09bde339;

    /// @dev Single-path recomputation (`Proof::root_with`) for `key` holding `value` (or absent).
    function _walk(Decoded memory p, bytes32 key, bool present, bytes32 value) private pure returns (bytes32 h) {
        uint256 kind;
        (kind, h) = _bottom(p, key, present, value);
        assembly ("memory-safe") {
            let depth := mload(p)
            let bm := mload(add(p, 0x20))
            let sp := mload(add(p, 0x40))
            // The deepest sibling (depth D - 1) re-collapses an emptied path iff it is a leaf.
            let collapseAt := sub(depth, 1)
            if iszero(mload(add(p, 0xe0))) { collapseAt := not(0) }
            for { let d := depth } d {} {
                d := sub(d, 1)
                let s := 0
                if and(shr(sub(255, d), bm), 1) {
                    sp := sub(sp, 0x20)
                    s := mload(sp)
                    if iszero(s) {
                        mstore(0, INVALID_PROOF_SELECTOR)
                        revert(0x1c, 4)
                    }
                }
                // ours on the right iff bit d of key is 1
                let right := and(shr(sub(255, d), key), 1)
                switch kind
                case 0 {
                    if s {
                        switch eq(d, collapseAt)
                        case 1 {
                            h := s
                            kind := 1
                        }
                        default {
                            mstore(shl(5, right), 0)
                            mstore(shl(5, xor(right, 1)), s)
                            h := keccak256(0, 64)
                            kind := 2
                        }
                    }
                }
                case 1 {
                    if s {
                        mstore(shl(5, right), h)
                        mstore(shl(5, xor(right, 1)), s)
                        h := keccak256(0, 64)
                        kind := 2
                    }
                }
                default {
                    mstore(shl(5, right), h)
                    mstore(shl(5, xor(right, 1)), s)
                    h := keccak256(0, 64)
                }
            }
            if iszero(kind) { h := 0 }
        }
    }

    /// @dev The subtree at the end of the path (depth D) once `key` holds `value` (or is absent):
    ///      kind 0 = empty, 1 = single leaf, 2 = internal node; `h` its hash.
    function _bottom(Decoded memory p, bytes32 key, bool present, bytes32 value)
        private
        pure
        returns (uint256 kind, bytes32 h)
    {
        if (!p.hasLeaf || p.leafKey == key) {
            if (present) return (1, _leafHash(key, value));
            return (0, bytes32(0));
        }
        bytes32 theirs = _leafHash(p.leafKey, p.leafValue);
        if (!present) return (1, theirs);
        bytes32 ours = _leafHash(key, value);
        uint256 depth = p.depth;
        assembly ("memory-safe") {
            // Index of the most significant set bit of x (x != 0).
            function msb(x) -> r {
                r := shl(7, lt(0xffffffffffffffffffffffffffffffff, x))
                r := or(r, shl(6, lt(0xffffffffffffffff, shr(r, x))))
                r := or(r, shl(5, lt(0xffffffff, shr(r, x))))
                r := or(r, shl(4, lt(0xffff, shr(r, x))))
                r := or(r, shl(3, lt(0xff, shr(r, x))))
                r := or(r, shl(2, lt(0xf, shr(r, x))))
                r := or(r, shl(1, lt(0x3, shr(r, x))))
                r := or(r, gt(shr(r, x), 0x1))
            }
            // Both leaves split at the first differing bit b (>= D); ZERO siblings up to D.
            let d := sub(255, msb(xor(key, mload(add(p, 0x80)))))
            let right := and(shr(sub(255, d), key), 1)
            mstore(shl(5, right), ours)
            mstore(shl(5, xor(right, 1)), theirs)
            h := keccak256(0, 64)
            for {} gt(d, depth) {} {
                d := sub(d, 1)
                right := and(shr(sub(255, d), key), 1)
                mstore(shl(5, right), h)
                mstore(shl(5, xor(right, 1)), 0)
                h := keccak256(0, 64)
            }
        }
        kind = 2;
    }

    /// @dev keccak256(0x00 ‖ k ‖ v), built just past the free memory pointer (not allocated).
    function _leafHash(bytes32 k, bytes32 v) private pure returns (bytes32 r) {
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore8(m, 0)
            mstore(add(m, 1), k)
            mstore(add(m, 33), v)
            r := keccak256(m, 65)
        }
    }
}
