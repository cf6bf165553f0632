//! The journal on a real folder: reclaiming segments, rewriting a long-lived message, a torn tail.

use super::*;

fn put(key: u8, len: usize) -> Write {
    Write::Put { space: Space::Messages, key: [key; 16], value: Bytes::from(vec![key; len]) }
}

fn delete(key: u8) -> Write {
    Write::Delete { space: Space::Messages, key: [key; 16] }
}

fn messages(store: &mut DiskStore) -> Vec<Key> {
    let mut keys = Vec::new();
    store
        .scan(Space::Messages, &mut |key, _| {
            keys.push(key.try_into().unwrap());
            Ok(())
        })
        .unwrap();
    keys
}

fn folder(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("stompbox-journal-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn segment_files(dir: &Path) -> usize {
    std::fs::read_dir(dir.join(JOURNAL)).unwrap().count()
}

#[test]
fn acknowledged_segments_are_deleted_and_a_long_lived_message_does_not_pin_them() {
    let dir = folder("reclaim");
    let mut store = DiskStore::open(&dir).unwrap();
    let big = (SEGMENT_BYTES / 4) as usize;
    store.commit(&[put(0, 10)]).unwrap();
    for n in 1..=12u8 {
        store.commit(&[put(n, big)]).unwrap();
        store.commit(&[delete(n)]).unwrap();
    }
    assert!(segment_files(&dir) <= 3, "{} segments for 10 bytes of live data", segment_files(&dir));
    assert!(store.disk_bytes() <= 3 * SEGMENT_BYTES);
    drop(store);
    let mut store = DiskStore::open(&dir).unwrap();
    assert_eq!(messages(&mut store), [[0; 16]], "the long-lived message survived its rewrites");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_torn_tail_is_cut_off_and_writing_goes_on_after_it() {
    let dir = folder("torn");
    let mut store = DiskStore::open(&dir).unwrap();
    store.commit(&[put(1, 100)]).unwrap();
    store.commit(&[put(2, 100), delete(1)]).unwrap();
    drop(store);
    let path = segment_path(&dir.join(JOURNAL), 0);
    let length = std::fs::metadata(&path).unwrap().len();
    OpenOptions::new().write(true).open(&path).unwrap().set_len(length - 5).unwrap();
    let mut store = DiskStore::open(&dir).unwrap();
    assert_eq!(messages(&mut store), [[1; 16]], "the second batch, torn, is gone as a whole");
    store.commit(&[put(3, 10)]).unwrap();
    drop(store);
    let mut store = DiskStore::open(&dir).unwrap();
    assert_eq!(messages(&mut store), [[1; 16], [3; 16]]);
    std::fs::remove_dir_all(&dir).unwrap();
}
