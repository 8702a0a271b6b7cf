//! The binding under the preload: calibration, counts, the macros, the
//! failure message and the window discipline.

use std::panic::{catch_unwind, AssertUnwindSafe};

use frame_alloc_audit::{
    assert_allocs, assert_no_alloc, assert_nonblocking, counts, describe, live, measure, measure_with,
    Flags,
};

fn panic_text<F: FnOnce()>(f: F) -> String {
    let err = catch_unwind(AssertUnwindSafe(f)).expect_err("it must panic");
    match err.downcast::<String>() {
        Ok(s) => *s,
        Err(e) => e.downcast::<&str>().map(|s| s.to_string()).unwrap_or_default(),
    }
}

#[test]
fn the_interposer_is_live_and_calibrated() {
    live();
    assert_eq!(frame_alloc_audit::is_live(), Ok(()));
}

#[test]
fn a_vec_with_capacity_is_one_malloc_and_its_drop_one_free() {
    let c = counts(|| {
        let v: Vec<u64> = Vec::with_capacity(16);
        drop(v);
    });
    assert_eq!((c.allocs, c.frees, c.os), (1, 1, 0), "{}", c);
    assert_eq!(c.of("malloc"), 1);
    assert_eq!(c.bytes, 128);
    assert!(c.first.is_none(), "no capture without CAPTURE_STACK");
}

#[test]
fn the_macros_pass_on_the_right_counts_and_return_the_value() {
    let mut v: Vec<u32> = Vec::with_capacity(4);
    assert_no_alloc!(v.push(1));
    let (b, s) = assert_allocs!(2, (Box::new(7u8), String::from("two")));
    assert_eq!((*b, s.as_str()), (7, "two"));
    let (r, c) = measure(|| 40 + 2);
    assert_eq!((r, c.is_heap_free()), (42, true));
}

#[test]
fn a_failure_carries_the_counts_the_kind_and_the_line() {
    let msg = panic_text(|| {
        assert_no_alloc!(Box::new(5u64));
    });
    assert!(
        msg.contains("assert_no_alloc!(Box::new(5u64)): expected no heap call, counted 1 allocation(s), 0 free(s), 0 OS call(s), 8 byte(s) [malloc 1]"),
        "{}",
        msg
    );
    assert!(msg.contains("first call: malloc (tid "), "{}", msg);
    assert!(msg.contains("tests/binding.rs:"), "no line of this file in: {}", msg);
    let msg = panic_text(|| {
        assert_allocs!(3, vec![1u8, 2]);
    });
    assert!(msg.contains("expected 3 allocation(s), counted 1 allocation(s)"), "{}", msg);
}

#[test]
fn windows_do_not_nest_and_a_panic_closes_the_window() {
    let msg = panic_text(|| {
        counts(|| counts(|| ()));
    });
    assert!(msg.contains("windows do not nest"), "{}", msg);
    let msg = panic_text(|| {
        counts(|| panic!("inside"));
    });
    assert_eq!(msg, "inside");
    assert!(counts(|| ()).is_heap_free());
}

#[test]
fn a_sleep_is_a_blocking_call_and_an_uncontended_mutex_is_none() {
    let m = std::sync::Mutex::new(0u32);
    assert_nonblocking!(*m.lock().unwrap() += 1); // atomics only: no call
    let msg = panic_text(|| {
        assert_nonblocking!(std::thread::sleep(std::time::Duration::from_nanos(1)));
    });
    assert!(
        msg.contains("expected no heap and no blocking call, counted 0 allocation(s), 0 free(s), 0 OS call(s), 1 blocking call(s), 0 byte(s) ["),
        "{}",
        msg
    );
    // std sleeps with nanosleep (rustc 1.63) or clock_nanosleep (later).
    assert!(msg.contains("nanosleep 1]\n  first call: "), "{}", msg);
    assert!(msg.contains("nanosleep (tid "), "{}", msg);
}

#[test]
fn a_capture_window_lists_every_call_site_with_its_line() {
    // One process-wide table serves one capture window at a time, and the
    // other tests here open theirs side by side: try until it was free
    // (for up to about 5 s).
    for _ in 0..5000 {
        let (_, c) = measure_with(Flags::CAPTURE_STACK, || {
            let a = Box::new(1u8);
            let b = Box::new(2u16);
            (a, b)
        });
        if c.sites.is_empty() && c.sites_lost != 0 {
            std::thread::sleep(std::time::Duration::from_millis(1));
            continue;
        }
        assert_eq!(c.sites.len(), 2, "{}", describe(&c));
        assert!(c.sites.iter().all(|s| s.kind == "malloc" && s.calls == 1), "{}", describe(&c));
        let text = describe(&c);
        let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("    malloc 1 at ")).collect();
        assert_eq!(lines.len(), 2, "{}", text);
        assert!(lines.iter().all(|l| l.contains("tests/binding.rs:")), "{}", text);
        assert_ne!(lines[0], lines[1], "two lines, two sites: {}", text);
        return;
    }
    panic!("the call-site table was never free in 5000 tries");
}
