//! Count allocator calls per call in your own tests, with
//! frame-alloc-audit's `LD_PRELOAD` interposer (libaudit.so).
//!
//! ```no_run
//! use frame_alloc_audit::{assert_allocs, assert_no_alloc};
//!
//! let mut v: Vec<u32> = Vec::with_capacity(4);
//! assert_no_alloc!(v.push(1));                     // fits: no heap call
//! assert_allocs!(2, (Box::new(1u8), String::from("two")));
//! ```
//!
//! Run the tests with the interposer preloaded into the test binaries:
//!
//! ```text
//! CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER="env LD_PRELOAD=$(pkg-config --variable=preload frame-alloc-audit)" cargo test
//! ```
//!
//! Without it every measurement panics ("interposer not loaded"): the
//! binding never reports a zero it did not count.  The first measurement
//! in a process resolves the interposer's API with `dlsym` (the crate does
//! not link libaudit.so) and calibrates it: malloc, calloc, realloc,
//! posix_memalign, free, a zero nanosleep and a futex wake-up must each
//! read exactly one call of their kind.
//!
//! A window counts the calls of the thread that opened it, between open and
//! close: tests running side by side on other threads do not disturb it.
//! Windows do not nest (measuring inside a measured closure panics).
//! The value an asserted expression returns is dropped outside the window
//! (write `{ f(); }` to count its drop too).

pub mod ffi;
mod live;
pub mod location;

use std::cell::Cell;
use std::fmt;

/// Which calls a window counts (`audit.h`'s window flags).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flags(pub u32);

impl Flags {
    /// The calling thread's calls only (the default).
    pub const THIS_THREAD: Flags = Flags(ffi::THIS_THREAD);
    /// Every thread's calls (one such window in the process at a time: run
    /// those tests with `--test-threads=1`).
    pub const ALL_THREADS: Flags = Flags(ffi::ALL_THREADS);
    /// Capture the first call's stack (and the call-site table); costs one
    /// unwind per counted call.  The assertion macros set it.
    pub const CAPTURE_STACK: Flags = Flags(ffi::CAPTURE_STACK);
}

impl std::ops::BitOr for Flags {
    type Output = Flags;
    fn bitor(self, o: Flags) -> Flags {
        Flags(self.0 | o.0)
    }
}

/// The first counted call of a capture window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FirstCall {
    /// Its kind, as the interposer names it ("malloc", "free", "mmap", …).
    pub kind: &'static str,
    /// The thread that made it (gettid()).
    pub tid: i32,
    /// Return addresses, innermost first (frames[0] called the hooked
    /// function); empty when no stack was captured.
    pub frames: Vec<usize>,
}

/// One call site of a capture window: `calls` calls of `kind` from the
/// same stack (audit.h's call-site table).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Site {
    pub kind: &'static str,
    pub calls: u64,
    /// Return addresses, innermost first.
    pub frames: Vec<usize>,
}

/// What one window counted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Counts {
    /// Calls to every heap kind but free() (malloc, calloc, realloc, …).
    pub allocs: u64,
    /// Calls to free() (NULL included).
    pub frees: u64,
    /// Memory asked of the kernel through libc (mmap, munmap, brk, …).
    pub os: u64,
    /// Calls that can block or take a lock (pthread_mutex_lock, futex, …).
    pub blocking: u64,
    /// Bytes requested by the heap calls.
    pub bytes: u64,
    /// Peak live bytes allocated in the window.
    pub live_peak: u64,
    /// Per kind, the kinds with at least one call, in audit.h's order.
    pub calls: Vec<(&'static str, u64)>,
    /// The first call, when the window captured it.
    pub first: Option<FirstCall>,
    /// A capture window's distinct call sites, most calls first (empty
    /// without `CAPTURE_STACK`, or when another thread's capture window
    /// held the process's one table).
    pub sites: Vec<Site>,
    /// Counted calls no site in `sites` accounts for (the table was full,
    /// or held or taken by another thread's capture window).
    pub sites_lost: u64,
}

impl Counts {
    /// Calls of one kind by name ("malloc", …); 0 for an unknown name.
    pub fn of(&self, kind: &str) -> u64 {
        self.calls.iter().find(|(k, _)| *k == kind).map_or(0, |(_, n)| *n)
    }

    /// No allocation, no free, no OS memory call: what a no_alloc window
    /// must read.
    pub fn is_heap_free(&self) -> bool {
        self.allocs == 0 && self.frees == 0 && self.os == 0
    }

    /// Heap-free and no call that can block or take a lock either: what
    /// code that may run in an interrupt handler must read.
    pub fn is_nonblocking(&self) -> bool {
        self.is_heap_free() && self.blocking == 0
    }

    /// `sites` is None for a window that did not capture.
    fn from_raw(api: &ffi::Api, raw: &ffi::RawCounts, sites: Option<&[ffi::RawSite]>) -> Counts {
        let calls = (0..ffi::KIND_COUNT)
            .filter(|&k| raw.calls[k] != 0)
            .map(|k| (ffi::kind_name(api, k), raw.calls[k]))
            .collect();
        let first = if raw.first_tid != 0 {
            let n = (raw.nframes as usize).min(ffi::MAX_FRAMES);
            Some(FirstCall {
                kind: ffi::kind_name(api, raw.first_kind as usize),
                tid: raw.first_tid,
                frames: raw.frames[..n].to_vec(),
            })
        } else {
            None
        };
        Counts {
            allocs: raw.allocs,
            frees: raw.frees,
            os: raw.os,
            blocking: raw.blocking,
            bytes: raw.bytes,
            live_peak: raw.live_peak,
            calls,
            first,
            sites: sites
                .unwrap_or(&[])
                .iter()
                .map(|s| Site {
                    kind: ffi::kind_name(api, s.kind as usize),
                    calls: s.calls,
                    frames: s.frames[..(s.nframes as usize).min(ffi::MAX_FRAMES)].to_vec(),
                })
                .collect(),
            sites_lost: match sites {
                // Also the calls of a table another thread's capture window
                // took between this close and the copy.
                Some(s) => {
                    let all: u64 = raw.calls.iter().sum();
                    all.saturating_sub(s.iter().map(|x| x.calls).sum())
                }
                None => raw.sites_lost,
            },
        }
    }
}

/// "2 allocation(s), 0 free(s), 0 OS call(s), 24 byte(s) [malloc 2]".
impl fmt::Display for Counts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} allocation(s), {} free(s), {} OS call(s), ",
            self.allocs, self.frees, self.os
        )?;
        if self.blocking != 0 {
            write!(f, "{} blocking call(s), ", self.blocking)?;
        }
        write!(f, "{} byte(s) [", self.bytes)?;
        for (i, (k, n)) in self.calls.iter().enumerate() {
            write!(f, "{}{} {}", if i == 0 { "" } else { ", " }, k, n)?;
        }
        write!(f, "]")
    }
}

/// Panics, loudly, unless the interposer is preloaded and counts.
pub fn live() {
    if let Err(why) = live::state() {
        panic!(
            "frame-alloc-audit: interposer not loaded or not counting: {}; run the tests with \
             LD_PRELOAD=$(pkg-config --variable=preload frame-alloc-audit) (README: \
             \"Use it in your own tests\")",
            why
        );
    }
}

/// Whether the interposer is preloaded and calibrated; the reason when not.
pub fn is_live() -> Result<(), String> {
    live::state().as_ref().map(|_| ()).map_err(|e| e.clone())
}

thread_local! {
    static IN_WINDOW: Cell<bool> = const { Cell::new(false) };
}

/// This thread's open window: closed when dropped, also when the measured
/// code panics.
struct Window {
    api: &'static ffi::Api,
    /// For a capture window: the site table's copy, allocated before the
    /// window opens.
    sites: Vec<ffi::RawSite>,
}

impl Window {
    fn open(flags: Flags) -> Window {
        live();
        let api = match live::state() {
            Ok(api) => api,
            Err(_) => unreachable!("live() checked"),
        };
        if IN_WINDOW.with(|w| w.replace(true)) {
            panic!("frame-alloc-audit: windows do not nest (measuring inside a measured call)");
        }
        let sites = if flags.0 & ffi::CAPTURE_STACK != 0 {
            vec![ffi::RawSite::ZERO; ffi::MAX_SITES]
        } else {
            Vec::new()
        };
        // SAFETY: opens this thread's window; Drop closes it.
        unsafe { (api.open)(flags.0) };
        Window { api, sites }
    }

    /// Closes the window and, for a capture window, copies its call sites
    /// at once (the table serves the next capture window after that).
    fn close(mut self) -> (ffi::RawCounts, Option<Vec<ffi::RawSite>>) {
        let mut raw = ffi::RawCounts::ZERO;
        let mut sites = std::mem::take(&mut self.sites);
        let captured = !sites.is_empty();
        // SAFETY: closes the window this thread opened; audit_window_sites
        // writes at most `sites.len()` entries.
        let n = unsafe {
            (self.api.close)(&mut raw);
            if sites.is_empty() {
                0
            } else {
                (self.api.sites)(sites.as_mut_ptr(), sites.len() as std::os::raw::c_uint)
            }
        };
        IN_WINDOW.with(|w| w.set(false));
        std::mem::forget(self);
        sites.truncate(n.max(0) as usize);
        (raw, if captured { Some(sites) } else { None })
    }
}

impl Drop for Window {
    fn drop(&mut self) {
        let mut raw = ffi::RawCounts::ZERO;
        // SAFETY: the measured code panicked: close the window it left open.
        unsafe { (self.api.close)(&mut raw) };
        IN_WINDOW.with(|w| w.set(false));
    }
}

/// Runs `f` in one window and returns its value and the window's counts.
/// The value is dropped by the caller, outside the window.
pub fn measure_with<R, F: FnOnce() -> R>(flags: Flags, f: F) -> (R, Counts) {
    let w = Window::open(flags);
    let api = w.api;
    let r = f();
    let (raw, sites) = w.close();
    (r, Counts::from_raw(api, &raw, sites.as_deref()))
}

/// Runs `f` in a window of this thread and returns its value and counts.
pub fn measure<R, F: FnOnce() -> R>(f: F) -> (R, Counts) {
    measure_with(Flags::THIS_THREAD, f)
}

/// The counts of `f`'s calls on this thread (its value dropped outside).
pub fn counts<R, F: FnOnce() -> R>(f: F) -> Counts {
    measure(f).1
}

/// Where a stack's calls come from: the caller's file, line and function,
/// else the first address and its object.
fn place(frames: &[usize]) -> String {
    let resolved = location::resolve(frames);
    match location::caller(&resolved) {
        Some(p) => format!(" at {}:{} in {}", p.file, p.line, p.function),
        None => match resolved.first() {
            Some(f) => format!(" at {:#x} ({}+{:#x})", f.addr, f.object, f.offset),
            None => String::new(),
        },
    }
}

/// The counts as a failure prints them, with the first call's location
/// and every call site when the window captured them.
pub fn describe(c: &Counts) -> String {
    let mut s = c.to_string();
    if let Some(first) = &c.first {
        s.push_str(&format!("\n  first call: {} (tid {}){}", first.kind, first.tid, place(&first.frames)));
    }
    if !c.sites.is_empty() {
        s.push_str(&format!("\n  call sites ({}):", c.sites.len()));
        for site in &c.sites {
            s.push_str(&format!("\n    {} {}{}", site.kind, site.calls, place(&site.frames)));
        }
    }
    if c.sites_lost != 0 {
        s.push_str(&format!("\n  ({} call(s) not in the call-site table)", c.sites_lost));
    }
    s
}

/// What an assertion wants of a window.
#[doc(hidden)]
#[derive(Clone, Copy, Debug)]
pub enum Want {
    /// No allocation, free or OS memory call.
    NoHeap,
    /// Exactly this many allocations.
    Allocs(u64),
    /// NoHeap, and no call that can block or take a lock.
    NonBlocking,
}

/// What the macros call: panics at the caller's line unless the counts
/// are as wanted.
#[doc(hidden)]
#[track_caller]
pub fn __check<R>(want: Want, got: (R, Counts), what: &str) -> R {
    let (r, c) = got;
    let (ok, expected) = match want {
        Want::NoHeap => (c.is_heap_free(), "no heap call".to_string()),
        Want::Allocs(n) => (c.allocs == n, format!("{} allocation(s)", n)),
        Want::NonBlocking => (c.is_nonblocking(), "no heap and no blocking call".to_string()),
    };
    if !ok {
        panic!("{}: expected {}, counted {}", what, expected, describe(&c));
    }
    r
}

/// Asserts that the expression makes no allocator call, no free() and no
/// OS memory call on this thread; evaluates to its value.
#[macro_export]
macro_rules! assert_no_alloc {
    ($e:expr) => {
        $crate::__check(
            $crate::Want::NoHeap,
            $crate::measure_with($crate::Flags::CAPTURE_STACK, || $e),
            concat!("assert_no_alloc!(", stringify!($e), ")"),
        )
    };
}

/// Asserts that the expression makes exactly `n` allocator calls (every
/// heap kind but free(); frees are counted, not constrained) on this
/// thread; evaluates to its value.
#[macro_export]
macro_rules! assert_allocs {
    ($n:expr, $e:expr) => {
        $crate::__check(
            $crate::Want::Allocs($n),
            $crate::measure_with($crate::Flags::CAPTURE_STACK, || $e),
            concat!("assert_allocs!(", stringify!($n), ", ", stringify!($e), ")"),
        )
    };
}

/// Asserts that the expression makes no heap call and no call that can
/// block or take a lock (pthread mutex, rwlock and condition waits, futex,
/// sleeps, blocking I/O: audit.h's blocking kinds) on this thread;
/// evaluates to its value.  An uncontended `std::sync::Mutex` is one atomic
/// instruction and makes no call at all: it passes.
#[macro_export]
macro_rules! assert_nonblocking {
    ($e:expr) => {
        $crate::__check(
            $crate::Want::NonBlocking,
            $crate::measure_with($crate::Flags::CAPTURE_STACK, || $e),
            concat!("assert_nonblocking!(", stringify!($e), ")"),
        )
    };
}
