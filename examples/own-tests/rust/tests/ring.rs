//! "No allocation" and "two allocations", per call, on our own code.

use frame_alloc_audit::{assert_allocs, assert_no_alloc, assert_nonblocking, counts, live};
use own_tests::Ring;

#[test]
fn the_interposer_is_live() {
    live(); // panics, naming LD_PRELOAD, when the tests run without it
}

#[test]
fn push_does_not_allocate() {
    let mut ring = Ring::new();
    for i in 0..20 {
        assert_no_alloc!(ring.push(i));
    }
    // Safe to call from an interrupt handler: no heap, no lock, no sleep.
    assert_nonblocking!(ring.push(21));
}

#[test]
fn snapshot_allocates_twice() {
    let mut ring = Ring::new();
    ring.push(1);
    ring.push(2);
    let snap = assert_allocs!(2, ring.snapshot());
    assert_eq!(snap.items, [1, 2]);
    let dropped = counts(|| drop(snap));
    assert_eq!((dropped.allocs, dropped.frees), (0, 2), "{}", dropped);
}

#[test]
fn a_failure_names_the_counts_and_our_line() {
    let mut ring = Ring::new();
    ring.push(7);
    let err = std::panic::catch_unwind(|| {
        assert_no_alloc!(ring.snapshot());
    })
    .expect_err("snapshot allocates");
    let msg = err.downcast::<String>().map(|s| *s).unwrap_or_default();
    println!("{}", msg);
    assert!(msg.contains("expected no heap call, counted 2 allocation(s), 0 free(s)"), "{}", msg);
    assert!(msg.contains("first call: malloc"), "{}", msg);
    assert!(msg.contains("src/lib.rs:"), "{}", msg);
}
