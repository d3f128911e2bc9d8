// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {RelayerSet} from "./RelayerSet.sol";

/// @title SymbioteBridge
/// @notice Locks native currency and ERC-20 tokens deposited for a symbiote account, and releases
/// them when a threshold of the registered relayers signs a release (after the amount was burnt
/// on the symbiote).
/// @dev Every authorized action is an EIP-712 message in the domain ("SymbioteBridge", "1",
/// chain id, this contract), signed by a threshold of the current relayer set (see RelayerSet):
///   Release(uint256 nonce,address token,address recipient,uint256 amount)
///   SetLimit(address token,uint256 dailyCap,uint256 largeTransferThreshold,uint256 delaySeconds,uint256 nonce)
///   SetPaused(bool paused,uint256 nonce)
///   CancelQueued(uint256 releaseNonce,uint256 nonce)
///   RelayerSetUpdate(address[] relayers,uint256 threshold,uint256 nonce)
/// The `nonce` of SetLimit, SetPaused and CancelQueued is `adminNonce`, shared by the three and
/// incremented by each. `token == address(0)` stands for the native currency everywhere.
///
/// Release limits per token, as in Wormhole's Governor:
/// - `dailyCap` (0: none): a release that would bring the amount released in the rolling window
///   above the cap is queued;
/// - `largeTransferThreshold` (0: none): a release of at least this amount is queued;
/// - a queued release becomes executable by anyone with `executeQueued` at
///   `releaseAfter = queue time + delaySeconds` (the delay in force when it was queued). Nothing
///   but time and pause is re-checked then: the delay is the window in which the relayers can
///   pause the bridge or cancel the release (`cancelQueued`), and waiting for room under the cap
///   instead could hold a release for ever under sustained traffic.
/// A token with no limit set has no cap and no delay.
///
/// The rolling window: released amounts (direct releases and executed queued ones) are summed in
/// hourly buckets, `WINDOW_BUCKETS` (25) of them per token in a ring indexed by
/// `hour % WINDOW_BUCKETS`, each tagged with its hour. The window at time t is the buckets of the
/// hours `h-24 ..= h` where `h = t / 1 hours`: an amount counts against the cap from the moment it
/// is released for at least 24 and at most 25 hours. So in ANY 24-hour period at most `dailyCap`
/// is released without delay (the accounting is exact; time is rounded in the safe direction),
/// and storage and gas are bounded (25 slots per token, one write per release) however many
/// releases there are. Amounts are tracked for every token, also without a limit, so a limit set
/// later applies to the flow of the last 24 hours at once. A bucket saturates at 2**224-1.
contract SymbioteBridge is RelayerSet, ReentrancyGuard {
    using SafeERC20 for IERC20;

    /// @notice What happened to a release nonce. A nonce is consumed by its first accepted
    /// release, whether paid at once (Released) or queued; a queued release ends Released
    /// (executeQueued) or Cancelled (cancelQueued).
    enum ReleaseStatus {
        None,
        Released,
        Queued,
        Cancelled
    }

    struct Limit {
        uint256 dailyCap;
        uint256 largeTransferThreshold;
        uint256 delaySeconds;
    }

    struct QueuedRelease {
        address token;
        address recipient;
        uint256 amount;
        uint256 releaseAfter;
    }

    struct Bucket {
        uint32 hour;
        uint224 amount;
    }

    uint256 public constant BUCKET_SECONDS = 1 hours;
    uint256 public constant WINDOW_BUCKETS = 25;
    /// @notice Longest accepted delay, so that a mistaken limit cannot lock releases for years.
    uint256 public constant MAX_DELAY = 30 days;

    bytes32 public constant RELEASE_TYPEHASH =
        keccak256("Release(uint256 nonce,address token,address recipient,uint256 amount)");
    bytes32 public constant SET_LIMIT_TYPEHASH = keccak256(
        "SetLimit(address token,uint256 dailyCap,uint256 largeTransferThreshold,uint256 delaySeconds,uint256 nonce)"
    );
    bytes32 public constant SET_PAUSED_TYPEHASH = keccak256("SetPaused(bool paused,uint256 nonce)");
    bytes32 public constant CANCEL_QUEUED_TYPEHASH = keccak256("CancelQueued(uint256 releaseNonce,uint256 nonce)");

    /// @notice Nonce of the latest deposit (the first deposit gets 1).
    uint256 public depositNonce;

    /// @notice The nonce the next SetLimit, SetPaused or CancelQueued must carry.
    uint256 public adminNonce;

    /// @notice While true, deposits, releases and executions of queued releases revert.
    bool public paused;

    /// @notice The status of each release nonce.
    mapping(uint256 nonce => ReleaseStatus) public releaseStatus;

    mapping(uint256 nonce => QueuedRelease) private _queued;
    mapping(address token => Limit) private _limits;
    mapping(address token => Bucket[WINDOW_BUCKETS]) private _buckets;

    event Deposited(
        uint256 indexed nonce, address indexed token, address indexed from, uint256 amount, bytes32 recipient
    );
    event Released(uint256 indexed nonce, address indexed token, address indexed recipient, uint256 amount);
    event Queued(uint256 indexed nonce, address token, address recipient, uint256 amount, uint256 releaseAfter);
    event QueuedCancelled(uint256 indexed nonce, uint256 adminNonce);
    event LimitSet(
        address indexed token,
        uint256 dailyCap,
        uint256 largeTransferThreshold,
        uint256 delaySeconds,
        uint256 adminNonce
    );
    event PauseSet(bool paused, uint256 adminNonce);

    error BridgePaused();
    error ZeroAmount();
    error ZeroRecipient();
    error InvalidToken(address token);
    error InvalidRecipient(address recipient);
    error NonceAlreadyUsed(uint256 nonce, ReleaseStatus status);
    error NotQueued(uint256 nonce, ReleaseStatus status);
    error QueuedReleaseNotReady(uint256 nonce, uint256 releaseAfter, uint256 blockTimestamp);
    error NativeTransferFailed(address recipient, uint256 amount);
    error WrongAdminNonce(uint256 expected, uint256 given);
    error InvalidDelay(uint256 delaySeconds, uint256 maxDelay);

    modifier whenNotPaused() {
        if (paused) revert BridgePaused();
        _;
    }

    constructor(address[] memory initialRelayers, uint256 initialThreshold)
        RelayerSet("SymbioteBridge", initialRelayers, initialThreshold)
    {}

    // ---------------------------------------------------------------- deposits

    /// @notice Locks `msg.value` for the symbiote account `recipient` (an ed25519 public key).
    function depositNative(bytes32 recipient) external payable whenNotPaused {
        if (msg.value == 0) revert ZeroAmount();
        if (recipient == bytes32(0)) revert ZeroRecipient();
        uint256 nonce = ++depositNonce;
        emit Deposited(nonce, address(0), msg.sender, msg.value, recipient);
    }

    /// @notice Locks `amount` of `token` (approved to this contract) for the symbiote account
    /// `recipient`. The event carries the amount actually received (balance delta), which is
    /// less than `amount` for fee-on-transfer tokens.
    function depositToken(address token, uint256 amount, bytes32 recipient) external nonReentrant whenNotPaused {
        if (token == address(0)) revert InvalidToken(token);
        if (amount == 0) revert ZeroAmount();
        if (recipient == bytes32(0)) revert ZeroRecipient();
        uint256 before = IERC20(token).balanceOf(address(this));
        IERC20(token).safeTransferFrom(msg.sender, address(this), amount);
        uint256 received = IERC20(token).balanceOf(address(this)) - before;
        if (received == 0) revert ZeroAmount();
        uint256 nonce = ++depositNonce;
        emit Deposited(nonce, token, msg.sender, received, recipient);
    }

    // ---------------------------------------------------------------- releases

    /// @notice Pays `amount` of `token` to `recipient`, or queues the release if the token's
    /// limits say so (see the contract's documentation). Anyone may submit; `signatures` (a
    /// threshold of the current relayers, sorted by signer) over `releaseDigest(...)` authorize
    /// it. A nonce is accepted once, whatever becomes of it.
    function release(
        uint256 nonce,
        address token,
        address payable recipient,
        uint256 amount,
        bytes[] calldata signatures
    ) external nonReentrant whenNotPaused {
        ReleaseStatus status = releaseStatus[nonce];
        if (status != ReleaseStatus.None) revert NonceAlreadyUsed(nonce, status);
        if (amount == 0) revert ZeroAmount();
        if (recipient == address(0)) revert InvalidRecipient(recipient);
        _checkSignatures(releaseDigest(nonce, token, recipient, amount), signatures);

        Limit memory limit = _limits[token];
        bool large = limit.largeTransferThreshold != 0 && amount >= limit.largeTransferThreshold;
        bool overCap =
            limit.dailyCap != 0 && (amount > limit.dailyCap || releasedInWindow(token) > limit.dailyCap - amount);
        if (large || overCap) {
            uint256 releaseAfter = block.timestamp + limit.delaySeconds;
            releaseStatus[nonce] = ReleaseStatus.Queued;
            _queued[nonce] = QueuedRelease(token, recipient, amount, releaseAfter);
            emit Queued(nonce, token, recipient, amount, releaseAfter);
            return;
        }
        releaseStatus[nonce] = ReleaseStatus.Released;
        _pay(nonce, token, recipient, amount);
    }

    /// @notice Pays a queued release once its delay has passed. Anyone may call it.
    function executeQueued(uint256 nonce) external nonReentrant whenNotPaused {
        ReleaseStatus status = releaseStatus[nonce];
        if (status != ReleaseStatus.Queued) revert NotQueued(nonce, status);
        QueuedRelease memory q = _queued[nonce];
        // Delays are hours to days: a few seconds of validator leeway do not matter.
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp < q.releaseAfter) revert QueuedReleaseNotReady(nonce, q.releaseAfter, block.timestamp);
        releaseStatus[nonce] = ReleaseStatus.Released;
        delete _queued[nonce];
        _pay(nonce, q.token, payable(q.recipient), q.amount);
    }

    // ---------------------------------------------------------------- administration

    /// @notice Sets the release limits of `token` (address(0): native). `dailyCap` 0 means no cap
    /// and `largeTransferThreshold` 0 no large-transfer rule; when either is set, `delaySeconds`
    /// must be between 1 and MAX_DELAY. Releases already queued keep their `releaseAfter`.
    function setLimit(
        address token,
        uint256 dailyCap,
        uint256 largeTransferThreshold,
        uint256 delaySeconds,
        uint256 opNonce,
        bytes[] calldata signatures
    ) external {
        if (dailyCap != 0 || largeTransferThreshold != 0) {
            if (delaySeconds == 0 || delaySeconds > MAX_DELAY) revert InvalidDelay(delaySeconds, MAX_DELAY);
        } else if (delaySeconds > MAX_DELAY) {
            revert InvalidDelay(delaySeconds, MAX_DELAY);
        }
        _useAdminNonce(opNonce);
        _checkSignatures(setLimitDigest(token, dailyCap, largeTransferThreshold, delaySeconds, opNonce), signatures);
        _limits[token] = Limit(dailyCap, largeTransferThreshold, delaySeconds);
        emit LimitSet(token, dailyCap, largeTransferThreshold, delaySeconds, opNonce);
    }

    /// @notice Pauses (or unpauses) deposits, releases and executions of queued releases.
    function setPaused(bool paused_, uint256 opNonce, bytes[] calldata signatures) external {
        _useAdminNonce(opNonce);
        _checkSignatures(setPausedDigest(paused_, opNonce), signatures);
        paused = paused_;
        emit PauseSet(paused_, opNonce);
    }

    /// @notice Cancels a queued release: its nonce stays consumed (status Cancelled) and nothing
    /// is paid; the symbiote side refunds through governance. Works while paused.
    function cancelQueued(uint256 releaseNonce, uint256 opNonce, bytes[] calldata signatures) external {
        ReleaseStatus status = releaseStatus[releaseNonce];
        if (status != ReleaseStatus.Queued) revert NotQueued(releaseNonce, status);
        _useAdminNonce(opNonce);
        _checkSignatures(cancelQueuedDigest(releaseNonce, opNonce), signatures);
        releaseStatus[releaseNonce] = ReleaseStatus.Cancelled;
        delete _queued[releaseNonce];
        emit QueuedCancelled(releaseNonce, opNonce);
    }

    // ---------------------------------------------------------------- views

    /// @notice Whether the release nonce was consumed: paid, queued or cancelled. A relayer must
    /// not submit a release for a consumed nonce (it would revert with NonceAlreadyUsed).
    function isReleased(uint256 nonce) external view returns (bool) {
        return releaseStatus[nonce] != ReleaseStatus.None;
    }

    /// @notice The queued release of `nonce`, or all zeros if it is not (or no longer) queued.
    function queuedRelease(uint256 nonce) external view returns (QueuedRelease memory) {
        return _queued[nonce];
    }

    /// @notice The limits of `token` (all zeros: none).
    function limitOf(address token) external view returns (Limit memory) {
        return _limits[token];
    }

    /// @notice The amount of `token` released in the current rolling window (see the contract's
    /// documentation): the figure the daily cap is checked against.
    function releasedInWindow(address token) public view returns (uint256 total) {
        uint256 hour = block.timestamp / BUCKET_SECONDS;
        Bucket[WINDOW_BUCKETS] storage buckets = _buckets[token];
        for (uint256 i = 0; i < WINDOW_BUCKETS; ++i) {
            Bucket memory b = buckets[i];
            if (uint256(b.hour) + (WINDOW_BUCKETS - 1) >= hour) total += b.amount;
        }
    }

    function releaseDigest(uint256 nonce, address token, address recipient, uint256 amount)
        public
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(keccak256(abi.encode(RELEASE_TYPEHASH, nonce, token, recipient, amount)));
    }

    function setLimitDigest(
        address token,
        uint256 dailyCap,
        uint256 largeTransferThreshold,
        uint256 delaySeconds,
        uint256 opNonce
    ) public view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(abi.encode(SET_LIMIT_TYPEHASH, token, dailyCap, largeTransferThreshold, delaySeconds, opNonce))
        );
    }

    function setPausedDigest(bool paused_, uint256 opNonce) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(SET_PAUSED_TYPEHASH, paused_, opNonce)));
    }

    function cancelQueuedDigest(uint256 releaseNonce, uint256 opNonce) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(CANCEL_QUEUED_TYPEHASH, releaseNonce, opNonce)));
    }

    // ---------------------------------------------------------------- internals

    function _useAdminNonce(uint256 opNonce) private {
        uint256 expected = adminNonce;
        if (opNonce != expected) revert WrongAdminNonce(expected, opNonce);
        adminNonce = expected + 1;
    }

    /// @dev Records `amount` in the window, pays it and emits Released. Callers hold the
    /// reentrancy guard and have already marked the nonce Released.
    function _pay(uint256 nonce, address token, address payable recipient, uint256 amount) private {
        _record(token, amount);
        emit Released(nonce, token, recipient, amount);
        if (token == address(0)) {
            bool ok;
            // A plain call that does not copy return data (the recipient chooses its size).
            assembly ("memory-safe") {
                ok := call(gas(), recipient, amount, 0, 0, 0, 0)
            }
            if (!ok) revert NativeTransferFailed(recipient, amount);
        } else {
            IERC20(token).safeTransfer(recipient, amount);
        }
    }

    function _record(address token, uint256 amount) private {
        uint256 hour = block.timestamp / BUCKET_SECONDS;
        Bucket storage b = _buckets[token][hour % WINDOW_BUCKETS];
        uint256 previous = b.hour == hour ? b.amount : 0;
        uint256 room = type(uint224).max - previous;
        uint256 next = amount >= room ? type(uint224).max : previous + amount;
        // Hours since 1970 fit in 32 bits for another 490,000 years.
        // forge-lint: disable-next-line(unsafe-typecast)
        b.hour = uint32(hour);
        // `next` is at most type(uint224).max (saturated above).
        // forge-lint: disable-next-line(unsafe-typecast)
        b.amount = uint224(next);
    }
}
