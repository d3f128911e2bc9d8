// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @dev The subset of forge's cheatcodes our tests use, declared here because forge-std is
/// published only as a git repository, which this project's machines cannot reach. Every
/// function below is a real cheatcode handled by forge at this address; assertions are
/// cheatcodes too, so a failing one fails the test with forge's usual message.
interface Vm {
    function prank(address sender) external;
    function expectRevert(bytes calldata revertData) external;
    function expectRevert(bytes4 revertData) external;
    function expectEmit(bool checkTopic1, bool checkTopic2, bool checkTopic3, bool checkData) external;
    function roll(uint256 newHeight) external;
    function addr(uint256 privateKey) external pure returns (address);
    function sign(uint256 privateKey, bytes32 digest) external pure returns (uint8 v, bytes32 r, bytes32 s);
    function assertEq(uint256 left, uint256 right) external pure;
    function assertEq(bytes32 left, bytes32 right) external pure;
    function assertEq(address left, address right) external pure;
    function assertTrue(bool condition) external pure;
}

/// @dev Base for forge tests: `vm` reaches the cheatcodes.
abstract contract CheatsTest {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));
}
