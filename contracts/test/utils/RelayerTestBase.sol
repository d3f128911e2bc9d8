// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {CheatsTest} from "./Cheats.sol";

/// @dev Relayer keys and threshold signatures for tests of the RelayerSet contracts.
abstract contract RelayerTestBase is CheatsTest {
    /// @dev secp256k1 group order; s above n/2 is the malleable twin of a signature.
    uint256 internal constant SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;

    /// @dev `count` relayer keys derived from `seed`, sorted by ascending address.
    function makeKeys(uint256 seed, uint256 count) internal pure returns (uint256[] memory keys) {
        keys = new uint256[](count);
        for (uint256 i = 0; i < count; ++i) {
            keys[i] = uint256(keccak256(abi.encode("symbiote relayer", seed, i))) % (SECP256K1_N - 1) + 1;
        }
        sortByAddress(keys);
    }

    function addressesOf(uint256[] memory keys) internal pure returns (address[] memory addrs) {
        addrs = new address[](keys.length);
        for (uint256 i = 0; i < keys.length; ++i) {
            addrs[i] = vm.addr(keys[i]);
        }
    }

    /// @dev Insertion sort of keys by their address (test sets are small).
    function sortByAddress(uint256[] memory keys) internal pure {
        for (uint256 i = 1; i < keys.length; ++i) {
            uint256 k = keys[i];
            address a = vm.addr(k);
            uint256 j = i;
            while (j > 0 && vm.addr(keys[j - 1]) > a) {
                keys[j] = keys[j - 1];
                --j;
            }
            keys[j] = k;
        }
    }

    function signOne(uint256 key, bytes32 digest) internal pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        return abi.encodePacked(r, s, v);
    }

    /// @dev Signatures of `digest` by `keys`, in the order given (sort the keys to get a valid
    /// list).
    function signAll(uint256[] memory keys, bytes32 digest) internal pure returns (bytes[] memory sigs) {
        sigs = new bytes[](keys.length);
        for (uint256 i = 0; i < keys.length; ++i) {
            sigs[i] = signOne(keys[i], digest);
        }
    }

    /// @dev Signatures by the first `n` of `keys` (sorted keys give sorted signatures).
    function signFirst(uint256[] memory keys, uint256 n, bytes32 digest) internal pure returns (bytes[] memory) {
        return signAll(firstKeys(keys, n), digest);
    }

    function firstKeys(uint256[] memory keys, uint256 n) internal pure returns (uint256[] memory out) {
        out = new uint256[](n);
        for (uint256 i = 0; i < n; ++i) {
            out[i] = keys[i];
        }
    }

    /// @dev The malleable twin (r, n - s, v ^ 1) of a 65-byte signature: same signer for a
    /// plain ecrecover, refused by OpenZeppelin's ECDSA.
    function malleate(bytes memory sig) internal pure returns (bytes memory) {
        bytes32 r;
        bytes32 s;
        uint8 v;
        assembly {
            r := mload(add(sig, 32))
            s := mload(add(sig, 64))
            v := byte(0, mload(add(sig, 96)))
        }
        return abi.encodePacked(r, bytes32(SECP256K1_N - uint256(s)), v == 27 ? uint8(28) : uint8(27));
    }

    /// @dev The EIP712Domain part of an eth_signTypedData_v4 JSON document.
    function domainJson(string memory name, address verifyingContract) internal view returns (string memory) {
        return string.concat(
            '"domain":{"name":"',
            name,
            '","version":"1","chainId":',
            vm.toString(block.chainid),
            ',"verifyingContract":"',
            vm.toString(verifyingContract),
            '"}'
        );
    }

    string internal constant DOMAIN_TYPE_JSON = '"EIP712Domain":[{"name":"name","type":"string"},{"name":"version","type":"string"},'
        '{"name":"chainId","type":"uint256"},{"name":"verifyingContract","type":"address"}]';
}
