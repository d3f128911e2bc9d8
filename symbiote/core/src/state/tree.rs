//! The authenticated store under the state: a Jellyfish Merkle tree (the `jmt` crate) hashed
//! with blake3 in the symbiote's own domain, and where its nodes and values are kept.
//!
//! The tree has one version per block: version `h` is the state after block `h` (genesis is
//! version 0). Writing version `h` adds only the nodes on the paths of the entries block `h`
//! changed, so a block costs in proportion to its changes times the tree's depth, whatever the
//! size of the state.
//!
//! A [`StateStore`] holds the nodes and values. [`MemoryStore`] keeps them in memory, either
//! only the latest version (what a node executes against) or every version (tests, proofs of
//! past heights); the node also writes every version's new nodes to its database.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use jmt::JellyfishMerkleTree;
use jmt::SimpleHasher;
use jmt::storage::{LeafNode, NibblePath, TreeReader};

use crate::hash::{Domain, Hash};

pub use jmt::storage::{Node, NodeKey, TreeUpdateBatch};
pub use jmt::{KeyHash, OwnedValue, Version};

/// blake3 with the state tree's domain prefix fed first: the hash of every value, leaf and inner
/// node of the tree. (jmt adds its own leaf and inner-node separators after the prefix.)
pub struct StateHasher(blake3::Hasher);

impl SimpleHasher for StateHasher {
    fn new() -> Self {
        let mut hasher = blake3::Hasher::new();
        hasher.update(Domain::StateTree.prefix());
        StateHasher(hasher)
    }

    fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    fn finalize(self) -> [u8; 32] {
        *self.0.finalize().as_bytes()
    }
}

/// The state tree over a reader.
pub(crate) type Tree<'a> = JellyfishMerkleTree<'a, TreeAdapter<'a>, StateHasher>;

/// The root of a tree with no entries (jmt's placeholder; never the root of a real state, which
/// always holds its meta entry).
pub const EMPTY_ROOT: Hash = Hash(*b"SPARSE_MERKLE_PLACEHOLDER_HASH__");

/// Why the state's store could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StorageError {
    #[error("the state at version {asked} is no longer held (this store holds version {held})")]
    NotHeld { asked: Version, held: Version },
    #[error("version {given} does not follow the store's latest version {latest:?}")]
    NotNext {
        given: Version,
        latest: Option<Version>,
    },
    #[error("no state tree at version {0}")]
    MissingRoot(Version),
    #[error("state entry {key} is corrupt: {reason}")]
    Corrupt { key: String, reason: String },
    #[error("state tree: {0}")]
    Tree(String),
    #[error("state store: {0}")]
    Backend(String),
}

impl StorageError {
    /// Wraps an error of the tree library.
    pub(crate) fn tree(error: anyhow::Error) -> Self {
        StorageError::Tree(format!("{error:#}"))
    }
}

/// Reads a state tree's nodes and values.
pub trait StateReader: Send + Sync {
    /// The node stored under `key`, if any.
    fn node(&self, key: &NodeKey) -> Result<Option<Node>, StorageError>;

    /// The value of the entry with key hash `key` in version `version`: the newest one written
    /// at or before it, `None` if it was never written or deleted since.
    fn value(&self, version: Version, key: KeyHash) -> Result<Option<OwnedValue>, StorageError>;
}

/// A store that the state's new versions are written to.
pub trait StateStore: StateReader {
    /// Writes `version`'s new nodes and values, which must follow the latest written version
    /// (or be version 0 in an empty store).
    fn write(&self, version: Version, batch: &TreeUpdateBatch) -> Result<(), StorageError>;

    /// The latest version written.
    fn latest(&self) -> Option<Version>;
}

/// How a database stores a node key: its version and its nibble path's encoding.
pub fn node_key_parts(key: &NodeKey) -> (Version, Vec<u8>) {
    (
        key.version(),
        borsh::to_vec(key.nibble_path()).unwrap_or_default(),
    )
}

/// The node key of [`node_key_parts`].
pub fn node_key_from(version: Version, path: &[u8]) -> Result<NodeKey, StorageError> {
    let path: NibblePath = borsh::from_slice(path).map_err(|e| StorageError::Corrupt {
        key: format!("tree node at version {version}"),
        reason: format!("nibble path: {e}"),
    })?;
    Ok(NodeKey::new(version, path))
}

/// A node's stored encoding.
pub fn encode_node(node: &Node) -> Vec<u8> {
    borsh::to_vec(node).unwrap_or_default()
}

/// The node of [`encode_node`].
pub fn decode_node(key: &NodeKey, bytes: &[u8]) -> Result<Node, StorageError> {
    borsh::from_slice(bytes).map_err(|e| StorageError::Corrupt {
        key: format!("tree node {key:?}"),
        reason: e.to_string(),
    })
}

/// jmt's reader trait over one of ours.
pub(crate) struct TreeAdapter<'a>(pub(crate) &'a dyn StateReader);

impl TreeReader for TreeAdapter<'_> {
    fn get_node_option(&self, node_key: &NodeKey) -> anyhow::Result<Option<Node>> {
        Ok(self.0.node(node_key)?)
    }

    fn get_value_option(
        &self,
        max_version: Version,
        key_hash: KeyHash,
    ) -> anyhow::Result<Option<OwnedValue>> {
        Ok(self.0.value(max_version, key_hash)?)
    }

    fn get_rightmost_leaf(&self) -> anyhow::Result<Option<(NodeKey, LeafNode)>> {
        anyhow::bail!("the state tree is never restored from a leaf stream")
    }
}

/// The root hash of `version`. A missing root is an error: jmt builds a new version on the
/// previous one and takes a missing previous root for an empty tree, which would give a wrong
/// root.
pub(crate) fn root_of(reader: &dyn StateReader, version: Version) -> Result<Hash, StorageError> {
    let adapter = TreeAdapter(reader);
    match Tree::new(&adapter)
        .get_root_hash_option(version)
        .map_err(StorageError::tree)?
    {
        Some(root) => Ok(Hash(root.0)),
        None => Err(StorageError::MissingRoot(version)),
    }
}

/// Computes version `version` of the tree from the previous one in `reader` and the entries
/// that changed (`None`: deleted). Writes nothing.
pub fn put(
    reader: &dyn StateReader,
    version: Version,
    writes: BTreeMap<KeyHash, Option<OwnedValue>>,
) -> Result<(Hash, TreeUpdateBatch), StorageError> {
    if let Some(previous) = version.checked_sub(1) {
        root_of(reader, previous)?;
    }
    let adapter = TreeAdapter(reader);
    let (root, batch) = Tree::new(&adapter)
        .put_value_set(writes, version)
        .map_err(StorageError::tree)?;
    Ok((Hash(root.0), batch))
}

/// The root of a tree holding exactly `entries`, built from nothing: what any version of the
/// state with these entries has as its root, however it was reached.
pub fn root_of_entries(
    entries: impl IntoIterator<Item = (KeyHash, OwnedValue)>,
) -> Result<Hash, StorageError> {
    let writes = entries.into_iter().map(|(k, v)| (k, Some(v))).collect();
    put(&EmptyReader, 0, writes).map(|(root, _)| root)
}

/// A reader with nothing in it: the tree before genesis.
pub(crate) struct EmptyReader;

impl StateReader for EmptyReader {
    fn node(&self, _: &NodeKey) -> Result<Option<Node>, StorageError> {
        Ok(None)
    }

    fn value(&self, _: Version, _: KeyHash) -> Result<Option<OwnedValue>, StorageError> {
        Ok(None)
    }
}

/// A state store in memory.
///
/// Without history it keeps only the latest version: the nodes a new version replaces are
/// dropped when it is written, and reading an older version is an error (never a silently newer
/// answer). With history it keeps every version.
pub struct MemoryStore {
    keep_history: bool,
    inner: RwLock<Memory>,
}

#[derive(Default)]
struct Memory {
    latest: Option<Version>,
    nodes: HashMap<NodeKey, Node>,
    /// Each key's values by version, oldest first (only the latest one without history).
    values: HashMap<KeyHash, Vec<(Version, Option<OwnedValue>)>>,
}

impl MemoryStore {
    /// A store that keeps only the latest version.
    pub fn latest_only() -> Arc<Self> {
        Arc::new(MemoryStore {
            keep_history: false,
            inner: RwLock::default(),
        })
    }

    /// A store that keeps every version.
    pub fn with_history() -> Arc<Self> {
        Arc::new(MemoryStore {
            keep_history: true,
            inner: RwLock::default(),
        })
    }

    /// How many tree nodes it holds.
    pub fn node_count(&self) -> usize {
        self.read().nodes.len()
    }

    /// Every entry of version `version` (which must be held), in key-hash order.
    pub fn entries(&self, version: Version) -> Result<Vec<(KeyHash, OwnedValue)>, StorageError> {
        let memory = self.read();
        if let Some(latest) = memory.latest
            && !self.keep_history
            && version != latest
        {
            return Err(StorageError::NotHeld {
                asked: version,
                held: latest,
            });
        }
        let mut entries: Vec<(KeyHash, OwnedValue)> = memory
            .values
            .iter()
            .filter_map(|(key, history)| {
                let newest = history.partition_point(|(v, _)| *v <= version);
                let (_, value) = history.get(newest.checked_sub(1)?)?;
                Some((*key, value.clone()?))
            })
            .collect();
        entries.sort_by_key(|(key, _)| *key);
        Ok(entries)
    }

    /// Loads one node of the latest version (a node restoring its state from its database).
    pub fn load_node(&self, key: NodeKey, node: Node) {
        self.write_lock().nodes.insert(key, node);
    }

    /// Loads one entry's latest value, written at `version`.
    pub fn load_value(&self, key: KeyHash, version: Version, value: OwnedValue) {
        self.write_lock()
            .values
            .insert(key, vec![(version, Some(value))]);
    }

    /// Declares the loaded nodes and values to be version `version`.
    pub fn set_latest(&self, version: Version) {
        self.write_lock().latest = Some(version);
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Memory> {
        // A panic while the lock was held leaves no half-written version behind (writes
        // prepare nothing outside the lock), so a poisoned lock is still consistent.
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_lock(&self) -> std::sync::RwLockWriteGuard<'_, Memory> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }
}

impl StateReader for MemoryStore {
    fn node(&self, key: &NodeKey) -> Result<Option<Node>, StorageError> {
        Ok(self.read().nodes.get(key).cloned())
    }

    fn value(&self, version: Version, key: KeyHash) -> Result<Option<OwnedValue>, StorageError> {
        let memory = self.read();
        if !self.keep_history
            && let Some(latest) = memory.latest
            && version < latest
        {
            return Err(StorageError::NotHeld {
                asked: version,
                held: latest,
            });
        }
        let Some(history) = memory.values.get(&key) else {
            return Ok(None);
        };
        let newest = history.partition_point(|(v, _)| *v <= version);
        Ok(newest
            .checked_sub(1)
            .and_then(|i| history.get(i))
            .and_then(|(_, value)| value.clone()))
    }
}

impl StateStore for MemoryStore {
    fn write(&self, version: Version, batch: &TreeUpdateBatch) -> Result<(), StorageError> {
        let mut memory = self.write_lock();
        let follows = match memory.latest {
            None => version == 0,
            Some(latest) => latest.checked_add(1) == Some(version),
        };
        if !follows {
            return Err(StorageError::NotNext {
                given: version,
                latest: memory.latest,
            });
        }
        // Stale nodes belong to earlier versions; drop them before adding this version's.
        if !self.keep_history {
            for stale in &batch.stale_node_index_batch {
                memory.nodes.remove(&stale.node_key);
            }
        }
        for (key, node) in batch.node_batch.nodes() {
            memory.nodes.insert(key.clone(), node.clone());
        }
        for ((at, key), value) in batch.node_batch.values() {
            if self.keep_history {
                memory
                    .values
                    .entry(*key)
                    .or_default()
                    .push((*at, value.clone()));
            } else {
                match value {
                    Some(value) => {
                        memory.values.insert(*key, vec![(*at, Some(value.clone()))]);
                    }
                    None => {
                        memory.values.remove(key);
                    }
                }
            }
        }
        memory.latest = Some(version);
        Ok(())
    }

    fn latest(&self) -> Option<Version> {
        self.read().latest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hasher_is_blake3_of_the_domain_prefix_then_the_data() {
        let mut expected = blake3::Hasher::new();
        expected.update(b"symbiote/v1/state-tree\0abc");
        assert_eq!(StateHasher::hash(b"abc"), *expected.finalize().as_bytes());
    }

    #[test]
    fn memory_store_refuses_a_version_that_does_not_follow() {
        let store = MemoryStore::latest_only();
        let error = store.write(3, &TreeUpdateBatch::default()).unwrap_err();
        assert_eq!(
            error,
            StorageError::NotNext {
                given: 3,
                latest: None
            }
        );
    }
}
