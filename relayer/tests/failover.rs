//! Several relayer replicas on one PostgreSQL database: one is active per role, a standby takes
//! over within seconds when the active one is killed with SIGKILL while it anchors, and every
//! batch is still anchored exactly once on each hostchain, without a gap in the heights.
//! Against real nodes: a 4-validator symbiote, PostgreSQL, bitcoind regtest and anvil with the
//! anchor contract. Also, in-process: the advisory lock itself, and a holder whose lock session
//! is ended by the server stops its stage before the standby starts its own.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::BTreeMap;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use devnet::Postgres;
use devnet::symbiote::{NetworkOptions, SymbioteNetwork};
use relayer::leader::{self, Leases, LockKey, LockSession, ReplicaId, Role, RoleState};
use relayer::store::Store;
use serde_json::Value;
use support::{
    Hostchains, RelayerProcess, bitcoin_anchor_sequences, contiguous_batch_ranges,
    evm_anchor_sequences, relayer_toml_head, symbiote_bin, wait_for,
};
use symbiote::types::{HostchainId, SymbioteId};
use tokio_util::sync::CancellationToken;

// Generous: on a loaded 2-core machine, four validators, two hostchain nodes, PostgreSQL and two
// relayers crawl.
const TIMEOUT: Duration = Duration::from_secs(480);
/// What the task promises: a standby takes over within this long.
const TAKEOVER_LIMIT: Duration = Duration::from_secs(10);
const HOSTCHAINS: [&str; 2] = ["bitcoin-regtest", "evm-31337"];

/// How often the in-process tests poll.
const POLL: Duration = Duration::from_millis(50);

// ---- the lock alone ----

#[tokio::test(flavor = "multi_thread")]
async fn two_lock_sessions_one_holder_and_dropping_it_frees_the_role() {
    let pg = Postgres::start().await.unwrap();
    let store = Store::open(pg.url()).await.unwrap();
    let symbiote = SymbioteId::from_name("failover-lock");
    let role = Role::Anchorer(HostchainId::new("evm-1").unwrap());
    let key = LockKey::new(&symbiote, &role);
    let check = Duration::from_millis(200);
    let (a, b) = (ReplicaId::new("a").unwrap(), ReplicaId::new("b").unwrap());
    let mut first = LockSession::open(&store, &a, &role, key, check)
        .await
        .unwrap();
    let mut second = LockSession::open(&store, &b, &role, key, check)
        .await
        .unwrap();

    assert!(first.try_acquire().await.unwrap(), "a free lock is taken");
    assert!(!second.try_acquire().await.unwrap(), "a held lock is not");
    assert!(first.try_acquire().await.unwrap(), "the holder still holds");
    assert!(!second.try_acquire().await.unwrap());

    // Another role of the same symbiote is another lock.
    let other = Role::Anchorer(HostchainId::new("evm-2").unwrap());
    let mut third = LockSession::open(&store, &b, &other, LockKey::new(&symbiote, &other), check)
        .await
        .unwrap();
    assert!(third.try_acquire().await.unwrap());

    // Dropping the holder's session (as a killed process does) frees the lock.
    drop(first);
    let started = Instant::now();
    while !second.try_acquire().await.unwrap() {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the lock of a dropped session was not freed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "lock free {} ms after its session was dropped",
        started.elapsed().as_millis()
    );

    // Releasing it frees it at once.
    second.release(&b).await.unwrap();
    let mut fourth = LockSession::open(&store, &a, &role, key, check)
        .await
        .unwrap();
    assert!(fourth.try_acquire().await.unwrap());
}

/// A stage that counts how many copies of it run at once, and which replica ran last.
struct Probe {
    running: AtomicUsize,
    most: AtomicUsize,
    starts: std::sync::Mutex<Vec<&'static str>>,
}

struct Running(Arc<Probe>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::SeqCst);
    }
}

fn probe_stage(
    probe: Arc<Probe>,
    name: &'static str,
) -> impl FnMut(CancellationToken) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>
+ Send
+ 'static {
    move |token: CancellationToken| {
        let probe = probe.clone();
        Box::pin(async move {
            let now = probe.running.fetch_add(1, Ordering::SeqCst) + 1;
            probe.most.fetch_max(now, Ordering::SeqCst);
            probe.starts.lock().unwrap().push(name);
            let _running = Running(probe.clone());
            token.cancelled().await;
        })
    }
}

/// A replica with a pool of its own, as a process of its own would have.
async fn leases(pg: &Postgres, symbiote: SymbioteId, name: &str, check: Duration) -> Leases {
    let store = Store::open(pg.url()).await.unwrap();
    Leases::new(store, symbiote, ReplicaId::new(name).unwrap(), check)
}

fn active(leases: &Leases, role: &Role) -> bool {
    leases
        .roles()
        .iter()
        .any(|(r, s)| r == role && matches!(s, RoleState::Active { .. }))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_holder_whose_session_the_server_ends_stops_before_the_standby_starts() {
    let pg = Postgres::start().await.unwrap();
    let symbiote = SymbioteId::from_name("failover-session");
    let role = Role::Follower;
    let check = Duration::from_millis(300);
    let probe = Arc::new(Probe {
        running: AtomicUsize::new(0),
        most: AtomicUsize::new(0),
        starts: std::sync::Mutex::new(Vec::new()),
    });
    // Two replicas, each with its own pool, as two processes would have.
    let (a, b) = (
        leases(&pg, symbiote, "a", check).await,
        leases(&pg, symbiote, "b", check).await,
    );
    let (stop_a, stop_b) = (CancellationToken::new(), CancellationToken::new());
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(a.clone().presence(stop_a.clone()));
    tasks.spawn(leader::run_while_leader(
        a.clone(),
        role.clone(),
        stop_a.clone(),
        probe_stage(probe.clone(), "a"),
    ));
    wait_for("a active", Duration::from_secs(20), POLL, &[], || async {
        active(&a, &role).then_some(())
    })
    .await;
    tasks.spawn(b.clone().presence(stop_b.clone()));
    tasks.spawn(leader::run_while_leader(
        b.clone(),
        role.clone(),
        stop_b.clone(),
        probe_stage(probe.clone(), "b"),
    ));
    tokio::time::sleep(check * 5).await;
    assert!(!active(&b, &role), "b runs while a holds the role");

    // The server ends a's lock session while a lives (as `pg_terminate_backend` or a
    // partition seen by keepalive would): b may take the lock at once, but must not start
    // before a has stopped.
    let admin = Store::open(pg.url()).await.unwrap();
    let mut conn = admin.dedicated_connection().await.unwrap();
    let ended = Instant::now();
    let terminated: Vec<(bool,)> = sqlx::query_as(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'relayer a follower'",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(terminated, vec![(true,)], "a's lock session");
    wait_for("b active", Duration::from_secs(20), POLL, &[], || async {
        active(&b, &role).then_some(())
    })
    .await;
    println!(
        "b active {} ms after a's lock session ended",
        ended.elapsed().as_millis()
    );
    assert!(!active(&a, &role), "a still active");
    assert_eq!(
        probe.most.load(Ordering::SeqCst),
        1,
        "two stages ran at once"
    );
    assert_eq!(probe.running.load(Ordering::SeqCst), 1);
    let worker = admin.worker(&role).await.unwrap().unwrap();
    assert_eq!(worker.replica.as_str(), "b");

    // b stops cleanly: it releases the role and a, standing by, takes it.
    stop_b.cancel();
    let stopped = Instant::now();
    wait_for(
        "a active again",
        Duration::from_secs(20),
        POLL,
        &[],
        || async { active(&a, &role).then_some(()) },
    )
    .await;
    println!(
        "a active {} ms after b stopped",
        stopped.elapsed().as_millis()
    );
    assert_eq!(
        probe.most.load(Ordering::SeqCst),
        1,
        "two stages ran at once"
    );
    assert_eq!(*probe.starts.lock().unwrap(), vec!["a", "b", "a"]);
    wait_for(
        "b forgets itself",
        Duration::from_secs(5),
        POLL,
        &[],
        || async {
            let replicas: Vec<String> = admin
                .replicas()
                .await
                .unwrap()
                .into_iter()
                .map(|r| r.replica.to_string())
                .collect();
            (replicas == ["a"]).then_some(())
        },
    )
    .await;
    stop_a.cancel();
    while tasks.join_next().await.is_some() {}
    assert!(admin.workers().await.unwrap().is_empty());
}

// ---- two relayer processes ----

/// A relayer process named `id` (its replica id), and what it reports of its roles.
struct Replica {
    id: &'static str,
    relayer: RelayerProcess,
}

impl Deref for Replica {
    type Target = RelayerProcess;

    fn deref(&self) -> &RelayerProcess {
        &self.relayer
    }
}

impl DerefMut for Replica {
    fn deref_mut(&mut self) -> &mut RelayerProcess {
        &mut self.relayer
    }
}

impl Replica {
    /// This replica's own roles and their states, from its API.
    async fn roles(&self) -> BTreeMap<String, String> {
        let Some(reply) = self.get("/v1/replicas").await else {
            return BTreeMap::new();
        };
        reply["roles"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| {
                (
                    r["role"].as_str().unwrap_or_default().to_string(),
                    r["state"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    }

    /// Whether this replica reports every role in the given state.
    async fn all(&self, state: &str) -> bool {
        let roles = self.roles().await;
        roles.len() == expected_roles().len()
            && expected_roles()
                .iter()
                .all(|r| roles.get(r).map(String::as_str) == Some(state))
    }

    /// Waits until this replica reports every role in `state` ("active" or "standby").
    async fn wait_all(&self, state: &str) {
        let doing = if state == "standby" {
            "standing by"
        } else {
            state
        };
        let started = Instant::now();
        while !self.all(state).await {
            assert!(
                started.elapsed() < TIMEOUT,
                "{} not {doing}: {:?}\n{}",
                self.id,
                self.roles().await,
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn expected_roles() -> Vec<String> {
    let mut roles = vec!["batcher".to_string(), "follower".to_string()];
    roles.extend(HOSTCHAINS.iter().map(|h| format!("anchorer:{h}")));
    roles
}

/// Anchors per state and hostchain, from an API.
async fn anchors(replica: &Replica) -> Vec<Value> {
    match replica.get("/v1/anchors?limit=500").await {
        Some(Value::Array(rows)) => rows,
        _ => Vec::new(),
    }
}

/// Final anchors on each hostchain, and whether one is under way (not final yet).
async fn anchoring(replica: &Replica) -> (BTreeMap<String, usize>, bool) {
    let rows = anchors(replica).await;
    let mut finals: BTreeMap<String, usize> =
        HOSTCHAINS.iter().map(|h| (h.to_string(), 0)).collect();
    let mut open = false;
    for anchor in &rows {
        match anchor["state"].as_str() {
            Some("final") => {
                *finals
                    .entry(anchor["hostchain"].as_str().unwrap().to_string())
                    .or_default() += 1
            }
            Some("prepared" | "broadcast" | "included") => open = true,
            _ => {}
        }
    }
    (finals, open)
}

/// Waits until `replica` has at least `at_least` more final anchors on every hostchain than
/// `before` and an anchor is in flight (prepared, broadcast or included): it is anchoring.
async fn wait_anchoring(replica: &Replica, before: &BTreeMap<String, usize>, at_least: usize) {
    let started = Instant::now();
    loop {
        let (finals, open) = anchoring(replica).await;
        let progressed = HOSTCHAINS
            .iter()
            .all(|h| finals[*h] >= before.get(*h).copied().unwrap_or(0) + at_least);
        if progressed && open {
            return;
        }
        assert!(
            started.elapsed() < TIMEOUT,
            "{} is not anchoring: final {finals:?} (before {before:?}), in flight: {open}\n{}",
            replica.id,
            replica.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Kills `active` while it anchors and measures how long `standby` takes to report itself
/// active for every role.
async fn kill_and_measure(active: &mut Replica, standby: &Replica) -> Duration {
    assert!(active.all("active").await, "{} is not active", active.id);
    assert!(
        standby.all("standby").await,
        "{} is not standing by",
        standby.id
    );
    active.kill();
    let killed = Instant::now();
    while !standby.all("active").await {
        assert!(
            killed.elapsed() < TIMEOUT,
            "{} did not take over: {:?}\n{}",
            standby.id,
            standby.roles().await,
            standby.log()
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let took = killed.elapsed();
    println!(
        "takeover: {} active for every role {} ms after {} was killed with SIGKILL",
        standby.id,
        took.as_millis(),
        active.id
    );
    // The store agrees: every role is recorded as run by the new holder.
    let status = standby.get("/v1/status").await.unwrap();
    let workers: BTreeMap<String, String> = status["workers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["role"].as_str().unwrap().to_string(),
                w["replica"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for role in expected_roles() {
        assert_eq!(
            workers.get(&role).map(String::as_str),
            Some(standby.id),
            "{status}"
        );
    }
    took
}

#[tokio::test(flavor = "multi_thread")]
async fn a_standby_takes_over_within_ten_seconds_and_nothing_is_anchored_twice() {
    let bin = symbiote_bin();
    let options = NetworkOptions {
        hostchains: HOSTCHAINS.iter().map(|h| h.to_string()).collect(),
        ..NetworkOptions::default()
    };
    // The anchor contract with the relayers' EVM key as its only relayer: both replicas are
    // the same relayer, with the same keys. A block a second on both hostchains from then on.
    let (net, hostchains, postgres) = tokio::join!(
        SymbioteNetwork::start(&bin, &options),
        Hostchains::start(),
        Postgres::start()
    );
    let (mut net, postgres) = (net.unwrap(), postgres.unwrap());

    let dir = tempfile::tempdir().unwrap();
    hostchains.write_keys(dir.path());
    let replica = |id: &'static str| {
        let relayer = RelayerProcess::configured(dir.path(), &format!("{id}.toml"), |port| {
            format!(
                r#"{head}
[replica]
id = "{id}"
lease_check_ms = 1000

[batch]
every_blocks = 10
every_seconds = 2
max_blocks = 50

[anchoring]
poll_interval_ms = 300
{hostchains}"#,
                head = relayer_toml_head(&net, 0, postgres.url(), port),
                hostchains = hostchains.toml(),
            )
        });
        Replica {
            id,
            relayer: relayer.named(id),
        }
    };
    let mut a = replica("replica-a");
    let mut b = replica("replica-b");

    // a starts first and runs every role; b, started next, stands by for every role.
    a.start();
    a.wait_all("active").await;
    b.start();
    b.wait_all("standby").await;
    let listed = |replicas: &Value| -> Vec<String> {
        replicas["replicas"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| r["replica"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    wait_for(
        "both replicas listed",
        Duration::from_secs(30),
        POLL,
        &[&b.relayer],
        || async {
            let replicas = b.get("/v1/replicas").await.unwrap_or_default();
            (listed(&replicas) == ["replica-a", "replica-b"]).then_some(())
        },
    )
    .await;
    let replicas = b.get("/v1/replicas").await.unwrap();
    assert_eq!(
        replicas["election"], "postgres_advisory_locks",
        "{replicas}"
    );
    for worker in replicas["workers"].as_array().unwrap() {
        assert_eq!(worker["replica"], "replica-a", "{replicas}");
    }

    // Kill a while it anchors: b takes over.
    wait_anchoring(&a, &BTreeMap::new(), 2).await;
    let first = kill_and_measure(&mut a, &b).await;

    // a comes back as a standby; b anchors on; kill b while it anchors: a takes over.
    a.start();
    a.wait_all("standby").await;
    let (finals, _) = anchoring(&b).await;
    wait_anchoring(&b, &finals, 2).await;
    let second = kill_and_measure(&mut b, &a).await;
    println!(
        "takeover times: {} ms, {} ms (limit {} ms)",
        first.as_millis(),
        second.as_millis(),
        TAKEOVER_LIMIT.as_millis()
    );
    assert!(first < TAKEOVER_LIMIT, "first takeover took {first:?}");
    assert!(second < TAKEOVER_LIMIT, "second takeover took {second:?}");

    // The symbiote goes on for a while, then stops; a anchors every batch it has cut (the
    // blocks after the last batch stay unbatched: cutting a batch asks the symbiote which
    // hostchains are active).
    let (finals, _) = anchoring(&a).await;
    wait_anchoring(&a, &finals, 2).await;
    for i in 0..net.len() {
        net.kill(i);
    }
    let started = Instant::now();
    let batches = loop {
        let rows = match a.get("/v1/batches?limit=500").await {
            Some(Value::Array(rows)) => rows,
            _ => Vec::new(),
        };
        if !rows.is_empty() && rows.iter().all(|b| b["state"] == "anchored") {
            break rows;
        }
        assert!(
            started.elapsed() < TIMEOUT,
            "batches not all anchored: {}\n{}",
            a.get("/v1/status").await.unwrap_or_default(),
            a.log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    hostchains.stop_mining();

    // Batches cover every height from 1 without a gap or an overlap.
    let ranges = contiguous_batch_ranges(&batches);

    // On the hostchains themselves: every batch's sequence exactly once, and nothing else.
    let expected: BTreeMap<u64, usize> = (1..=batches.len() as u64).map(|s| (s, 1)).collect();
    let on_bitcoin = bitcoin_anchor_sequences(&hostchains.bitcoind).await;
    let on_evm = evm_anchor_sequences(&hostchains.deployer, hostchains.anchor_contract).await;
    println!(
        "{} batches over heights 1..={}; anchored once each on Bitcoin and on the EVM",
        batches.len(),
        ranges.last().unwrap().1
    );
    assert_eq!(on_bitcoin, expected, "anchors per sequence on Bitcoin");
    assert_eq!(on_evm, expected, "anchors per sequence on the EVM");
}
