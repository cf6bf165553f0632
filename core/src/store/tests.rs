//! Group commit without the engine: batches, cancellation, groups, failure.

use super::*;

fn message(body: &str) -> Arc<Message> {
    let headers = vec![("persistent".to_owned(), "true".to_owned())];
    Arc::new(Message::new(1, "/queue/q".into(), headers, Bytes::copy_from_slice(body.as_bytes()), Arc::default()))
}

fn open(backend: &MemoryBackend) -> Store {
    open_with(backend, StoreConfig::default()).0
}

/// A store over `backend`, and what it read back.
fn open_with(backend: &MemoryBackend, config: StoreConfig) -> (Store, Vec<Recovered>) {
    let store = Store::open(Box::new(backend.clone()), config);
    let mut recovered = Vec::new();
    store.recover(&mut |item| recovered.push(item)).unwrap();
    (store, recovered)
}

#[test]
fn a_message_acknowledged_before_its_batch_is_never_written() {
    let backend = MemoryBackend::new();
    let store = open(&backend);
    backend.pause();
    // The writer may be holding a first batch of one: make sure it is an unrelated one.
    let first = store.submit(Op::Put { queue: 1, sequence: 1, message: message("kept") });
    let put = store.submit(Op::Put { queue: 1, sequence: 2, message: message("gone") });
    let delete = store.submit(Op::Delete { queue: 1, sequence: 2 });
    assert!(first < put && put < delete);
    backend.resume();
    store.flush();
    assert!(store.is_durable(delete));
    assert_eq!(backend.messages(), 1);
    let snapshot = store.snapshot();
    assert!(snapshot.cancelled == 2 || snapshot.written == 3, "{snapshot:?}");
}

#[test]
fn many_submissions_share_a_sync() {
    let backend = MemoryBackend::new();
    let store = open(&backend);
    backend.pause();
    let tickets: Vec<Ticket> =
        (1..=100).map(|sequence| store.submit(Op::Put { queue: 1, sequence, message: message("m") })).collect();
    backend.resume();
    store.flush();
    assert!(tickets.iter().all(|t| store.is_durable(*t)));
    assert!(backend.commits() <= 2, "at most the batch held before the pause, then the rest: {}", backend.commits());
}

#[test]
fn the_writer_never_takes_part_of_a_group() {
    let config = StoreConfig { max_batch_messages: 2, ..StoreConfig::default() };
    let mut pending = Pending::default();
    let submit = |pending: &mut Pending| {
        pending.submitted += 1;
        pending.ops.push_back(Op::Delete { queue: 1, sequence: pending.submitted });
    };
    submit(&mut pending);
    pending.open.push(pending.submitted);
    for _ in 0..4 {
        submit(&mut pending);
    }
    assert_eq!(pending.takeable(&config), 1, "only what came before the open group");
    pending.open.clear();
    pending.closed.push_back((1, 5));
    assert_eq!(pending.takeable(&config), 5, "the whole group, past the batch bound");
    pending.open.push(3);
    assert_eq!(pending.takeable(&config), 1, "a group reaching into an open one waits for it");
}

#[test]
fn a_failed_sync_is_final() {
    let backend = MemoryBackend::new();
    let store = open(&backend);
    backend.fail_at(1);
    let ticket = store.submit(Op::Put { queue: 1, sequence: 1, message: message("m") });
    store.flush();
    assert!(!store.is_durable(ticket));
    assert_eq!(store.admit(), Err(Refusal::Failed("injected sync failure".into())));
    assert_eq!(store.snapshot().failed.as_deref(), Some("injected sync failure"));
    let after = store.submit(Op::Delete { queue: 1, sequence: 1 });
    assert!(!store.is_durable(after), "a failed store takes nothing more");
    assert!(!store.is_backlogged(), "nothing to wait for");
}

#[test]
fn the_disk_limit_refuses_until_there_is_room() {
    let backend = MemoryBackend::new();
    let config = StoreConfig { max_disk_bytes: 100, ..StoreConfig::default() };
    let store = open_with(&backend, config).0;
    assert_eq!(store.admit(), Ok(()));
    store.submit(Op::Put { queue: 1, sequence: 1, message: message(&"x".repeat(200)) });
    store.flush();
    assert_eq!(store.admit(), Err(Refusal::Full { limit: 100 }));
    store.submit(Op::Delete { queue: 1, sequence: 1 });
    store.flush();
    assert_eq!(store.admit(), Ok(()));
}

#[test]
fn open_reads_back_catalog_then_messages() {
    let backend = MemoryBackend::new();
    let store = open(&backend);
    store.submit(Op::Catalog { queue: 7, entry: Some(CatalogEntry::Queue { destination: "/queue/q".into() }) });
    store.submit(Op::Put { queue: 7, sequence: 41, message: message("m") });
    store.flush();
    store.close();
    let (store, recovered) = open_with(&backend, StoreConfig::default());
    assert!(matches!(&recovered[0], Recovered::Entry(7, CatalogEntry::Queue { .. })));
    assert!(matches!(&recovered[1], Recovered::Message(7, 41, m) if m.body == "m"));
    assert_eq!((store.next_queue_id(), store.next_sequence()), (8, 42));
}
