// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";

/// @title RelayerSet
/// @notice The registered relayer set of a symbiote contract and its threshold, and the EIP-712
/// signature check that every authorized action goes through.
/// @dev Signatures are 65-byte secp256k1 signatures (r, s, v) over an EIP-712 digest whose domain
/// is bound to the chain id and to the contract's address (name set by the inheriting contract,
/// version "1"). A call is authorized by at least `threshold` signatures of distinct members of
/// the CURRENT set, ordered by strictly ascending signer address (which rejects duplicates with
/// one comparison); high-s (malleable) and malformed signatures are rejected by OpenZeppelin's
/// ECDSA. Every signature passed must be valid: extra signatures beyond the threshold are allowed
/// but are checked too.
///
/// The set is rotated by `updateRelayers`, signed by a threshold of the current set over
/// `RelayerSetUpdate(address[] relayers,uint256 threshold,uint256 nonce)` with
/// `nonce == relayerSetNonce`. Membership is stored per set nonce, so after a rotation the old
/// set's signatures are no longer counted and no storage needs clearing.
abstract contract RelayerSet is EIP712 {
    /// @notice Largest accepted relayer set (bounds the gas of a rotation).
    uint256 public constant MAX_RELAYERS = 64;

    /// @notice keccak256 of the EIP-712 type of a relayer-set rotation.
    bytes32 public constant RELAYER_SET_UPDATE_TYPEHASH =
        keccak256("RelayerSetUpdate(address[] relayers,uint256 threshold,uint256 nonce)");

    /// @notice Number of rotations so far: the nonce that the next `updateRelayers` must carry.
    uint256 public relayerSetNonce;

    /// @notice Signatures of this many distinct current relayers authorize an action.
    uint256 public threshold;

    address[] private _relayers;

    /// @dev Membership per set nonce: the current set is `_members[relayerSetNonce]`.
    mapping(uint256 setNonce => mapping(address relayer => bool)) private _members;

    /// @notice The relayer set changed. `nonce` is the `relayerSetNonce` from now on (0 for the
    /// set given at deployment, 1 after the first rotation, ...): the nonce the next rotation
    /// must sign.
    event RelayerSetUpdated(uint256 nonce, address[] relayers, uint256 threshold);

    error InsufficientSignatures(uint256 given, uint256 threshold);
    error NotRelayer(address signer);
    error DuplicateSigner(address signer);
    error SignersNotSorted(address previous, address signer);
    error EmptyRelayerSet();
    error TooManyRelayers(uint256 count, uint256 max);
    error InvalidThreshold(uint256 threshold, uint256 relayers);
    error InvalidRelayer(address relayer);
    error DuplicateRelayer(address relayer);
    error WrongRelayerSetNonce(uint256 expected, uint256 given);

    constructor(string memory name, address[] memory initialRelayers, uint256 initialThreshold) EIP712(name, "1") {
        _setRelayers(0, initialRelayers, initialThreshold);
    }

    /// @notice Replaces the relayer set. Anyone may submit; `signatures` (a threshold of the
    /// current set, sorted by signer) over `RelayerSetUpdate(relayers, threshold, setNonce)`
    /// authorize it. `setNonce` must equal `relayerSetNonce`, which is then incremented.
    function updateRelayers(
        address[] calldata newRelayers,
        uint256 newThreshold,
        uint256 setNonce,
        bytes[] calldata signatures
    ) external {
        uint256 current = relayerSetNonce;
        if (setNonce != current) revert WrongRelayerSetNonce(current, setNonce);
        _checkSignatures(relayerSetUpdateDigest(newRelayers, newThreshold, setNonce), signatures);
        _setRelayers(current + 1, newRelayers, newThreshold);
    }

    /// @notice The current relayer set, in the order it was registered.
    function relayers() external view returns (address[] memory) {
        return _relayers;
    }

    /// @notice Whether `account` is a member of the current relayer set.
    function isRelayer(address account) public view returns (bool) {
        return _members[relayerSetNonce][account];
    }

    /// @notice The EIP-712 domain separator of this contract (chain id and address bound).
    // solhint-disable-next-line func-name-mixedcase
    function DOMAIN_SEPARATOR() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// @notice The EIP-712 digest the relayers sign to rotate the set.
    function relayerSetUpdateDigest(address[] calldata newRelayers, uint256 newThreshold, uint256 setNonce)
        public
        view
        returns (bytes32)
    {
        // EIP-712 encodes an array as the keccak256 of its elements' 32-byte encodings, which is
        // what abi.encodePacked does for an address[] (each element padded to 32 bytes).
        return _hashTypedDataV4(
            keccak256(
                abi.encode(
                    RELAYER_SET_UPDATE_TYPEHASH, keccak256(abi.encodePacked(newRelayers)), newThreshold, setNonce
                )
            )
        );
    }

    /// @dev Reverts unless `signatures` holds at least `threshold` valid signatures of `digest`
    /// by distinct current relayers, in strictly ascending order of signer address.
    function _checkSignatures(bytes32 digest, bytes[] calldata signatures) internal view {
        uint256 required = threshold;
        uint256 count = signatures.length;
        if (count < required) revert InsufficientSignatures(count, required);
        mapping(address => bool) storage members = _members[relayerSetNonce];
        address previous = address(0);
        for (uint256 i = 0; i < count; ++i) {
            address signer = ECDSA.recover(digest, signatures[i]);
            if (signer <= previous) {
                if (signer == previous) revert DuplicateSigner(signer);
                revert SignersNotSorted(previous, signer);
            }
            if (!members[signer]) revert NotRelayer(signer);
            previous = signer;
        }
    }

    function _setRelayers(uint256 setNonce, address[] memory newRelayers, uint256 newThreshold) private {
        uint256 n = newRelayers.length;
        if (n == 0) revert EmptyRelayerSet();
        if (n > MAX_RELAYERS) revert TooManyRelayers(n, MAX_RELAYERS);
        if (newThreshold == 0 || newThreshold > n) revert InvalidThreshold(newThreshold, n);
        mapping(address => bool) storage members = _members[setNonce];
        for (uint256 i = 0; i < n; ++i) {
            address r = newRelayers[i];
            if (r == address(0)) revert InvalidRelayer(r);
            if (members[r]) revert DuplicateRelayer(r);
            members[r] = true;
        }
        relayerSetNonce = setNonce;
        threshold = newThreshold;
        _relayers = newRelayers;
        emit RelayerSetUpdated(setNonce, newRelayers, newThreshold);
    }
}
