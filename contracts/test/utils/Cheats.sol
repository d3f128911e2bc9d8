// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @dev The subset of forge's cheatcodes our tests use, declared here because forge-std is
/// published only as a git repository, which this project's machines cannot reach. Every
/// function below is a real cheatcode handled by forge at this address; assertions are
/// cheatcodes too, so a failing one fails the test with forge's usual message.
interface Vm {
    // Environment
    function prank(address sender) external;
    function startPrank(address sender) external;
    function stopPrank() external;
    function roll(uint256 newHeight) external;
    function warp(uint256 newTimestamp) external;
    function chainId(uint256 newChainId) external;
    function deal(address account, uint256 newBalance) external;
    function etch(address target, bytes calldata newRuntimeBytecode) external;
    function load(address target, bytes32 slot) external view returns (bytes32 data);
    function label(address account, string calldata newLabel) external;

    // Expectations
    function expectRevert() external;
    function expectRevert(bytes calldata revertData) external;
    function expectRevert(bytes4 revertData) external;
    function expectEmit(bool checkTopic1, bool checkTopic2, bool checkTopic3, bool checkData) external;
    function expectEmit(bool checkTopic1, bool checkTopic2, bool checkTopic3, bool checkData, address emitter) external;

    // Keys, signatures and EIP-712
    function addr(uint256 privateKey) external pure returns (address);
    function sign(uint256 privateKey, bytes32 digest) external pure returns (uint8 v, bytes32 r, bytes32 s);
    function eip712HashTypedData(string calldata jsonData) external pure returns (bytes32 digest);
    function eip712HashType(string calldata typeNameOrDefinition) external pure returns (bytes32 typeHash);

    // Strings
    function toString(address value) external pure returns (string memory);
    function toString(bytes32 value) external pure returns (string memory);
    function toString(uint256 value) external pure returns (string memory);
    function toString(bool value) external pure returns (string memory);

    // Assertions
    function assertEq(uint256 left, uint256 right) external pure;
    function assertEq(uint256 left, uint256 right, string calldata error) external pure;
    function assertEq(bytes32 left, bytes32 right) external pure;
    function assertEq(address left, address right) external pure;
    function assertEq(bool left, bool right) external pure;
    function assertEq(string calldata left, string calldata right) external pure;
    function assertEq(bytes calldata left, bytes calldata right) external pure;
    function assertNotEq(bytes32 left, bytes32 right) external pure;
    function assertGt(uint256 left, uint256 right) external pure;
    function assertTrue(bool condition) external pure;
    function assertFalse(bool condition) external pure;
}

/// @dev Base for forge tests: `vm` reaches the cheatcodes.
abstract contract CheatsTest {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));
}
