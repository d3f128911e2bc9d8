//! The pipeline stages (ARCHITECTURE section 3): follower -> batcher -> one anchorer per
//! hostchain. Each reads its input from the store and writes its output there before acting on
//! the outside world.

pub mod anchorer;
pub mod batcher;
pub mod follower;
