//! The relayer daemon: follows the symbiote's finalized blocks, batches them into commitments,
//! anchors them into every active hostchain, and relays bridge transfers; see ARCHITECTURE
//! sections 3 and 8.
