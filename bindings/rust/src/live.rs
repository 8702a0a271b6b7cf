//! Is the interposer loaded, and does it count?  Resolved and calibrated
//! once per process, on first use.

use std::cell::UnsafeCell;
use std::os::raw::{c_int, c_long, c_uint, c_void};
use std::sync::Once;

use crate::ffi::{self, Api, RawCounts};

extern "C" {
    fn malloc(size: usize) -> *mut c_void;
    fn calloc(n: usize, size: usize) -> *mut c_void;
    fn realloc(p: *mut c_void, size: usize) -> *mut c_void;
    fn posix_memalign(out: *mut *mut c_void, align: usize, size: usize) -> c_int;
    fn free(p: *mut c_void);
    fn nanosleep(req: *const Timespec, rem: *mut Timespec) -> c_int;
    fn syscall(n: c_long, ...) -> c_long;
}

#[repr(C)]
struct Timespec {
    sec: c_long,
    nsec: c_long,
}

/// SYS_futex: Rust's std locks wait and wake through libc's syscall().
#[cfg(target_arch = "x86_64")]
const SYS_FUTEX: c_long = 202;
#[cfg(target_arch = "aarch64")]
const SYS_FUTEX: c_long = 98;
const FUTEX_WAKE_PRIVATE: c_long = 1 | 128;

/// The blocking kinds the calibration calls, by the interposer's names.
const BLOCKING: [&str; 2] = ["nanosleep", "futex"];

/// Written once inside `INIT.call_once`, read only after it.
struct State(UnsafeCell<Option<Result<Api, String>>>);
// SAFETY: the cell is written only inside Once::call_once, which every
// reader waits for.
unsafe impl Sync for State {}

static INIT: Once = Once::new();
static STATE: State = State(UnsafeCell::new(None));

/// The resolved API, or why there is none.
pub fn state() -> &'static Result<Api, String> {
    INIT.call_once(|| {
        let st = ffi::resolve()
            .and_then(|api| calibrate(&api).map(|_| api))
            .and_then(|api| calibrate_blocking(&api).map(|_| api));
        // SAFETY: the only write, inside call_once.
        unsafe { *STATE.0.get() = Some(st) };
    });
    // SAFETY: written above and never again.
    match unsafe { &*STATE.0.get() } {
        Some(st) => st,
        None => unreachable!("call_once ran"),
    }
}

/// Makes the one call of `kind` the calibration expects.  The functions are
/// read through volatile loads, so the compiler can neither drop a
/// malloc/free pair nor fold one call into another.
fn call_once_of(kind: usize, block: &mut *mut c_void) {
    // SAFETY: plain libc calls on a block this function owns.
    unsafe {
        let m: unsafe extern "C" fn(usize) -> *mut c_void = std::ptr::read_volatile(&(malloc as _));
        let c: unsafe extern "C" fn(usize, usize) -> *mut c_void =
            std::ptr::read_volatile(&(calloc as _));
        let r: unsafe extern "C" fn(*mut c_void, usize) -> *mut c_void =
            std::ptr::read_volatile(&(realloc as _));
        let pm: unsafe extern "C" fn(*mut *mut c_void, usize, usize) -> c_int =
            std::ptr::read_volatile(&(posix_memalign as _));
        let f: unsafe extern "C" fn(*mut c_void) = std::ptr::read_volatile(&(free as _));
        match kind {
            ffi::MALLOC => *block = m(24),
            ffi::CALLOC => *block = c(3, 8),
            ffi::REALLOC => *block = r(*block, 48),
            ffi::POSIX_MEMALIGN => {
                pm(block, 64, 64);
            }
            _ => {
                f(*block);
                *block = std::ptr::null_mut();
            }
        }
    }
}

/// Every function Rust's system allocator calls (malloc, calloc, realloc,
/// posix_memalign, free) must read exactly one call of its own kind, and
/// nothing else, in a window of its own on this thread.
fn calibrate(api: &Api) -> Result<(), String> {
    let kinds = [
        ffi::MALLOC,
        ffi::REALLOC,
        ffi::FREE,
        ffi::CALLOC,
        ffi::FREE,
        ffi::POSIX_MEMALIGN,
        ffi::FREE,
    ];
    let mut block = std::ptr::null_mut();
    for &kind in kinds.iter() {
        let mut raw = RawCounts::ZERO;
        // SAFETY: a window on this thread around one libc call.
        unsafe {
            (api.open)(ffi::THIS_THREAD as c_uint);
            call_once_of(kind, &mut block);
            (api.close)(&mut raw);
        }
        let total = raw.allocs + raw.frees + raw.os + raw.blocking;
        if raw.calls[kind] != 1 || total != 1 {
            return Err(format!(
                "calibration: one {}() read {} call(s) of its kind and {} in all, \
                 expected 1 and 1 (is another library in front of libaudit.so?)",
                ffi::kind_name(api, kind),
                raw.calls[kind],
                total
            ));
        }
    }
    Ok(())
}

/// One call of a blocking kind that returns at once: a zero sleep, a
/// futex wake-up nobody waits for.
fn call_blocking(name: &str) {
    let zero = Timespec { sec: 0, nsec: 0 };
    let word: u32 = 0;
    // SAFETY: neither call touches memory but `zero` and `word`.
    unsafe {
        let ns: unsafe extern "C" fn(*const Timespec, *mut Timespec) -> c_int =
            std::ptr::read_volatile(&(nanosleep as _));
        match name {
            "nanosleep" => {
                ns(&zero, std::ptr::null_mut());
            }
            _ => {
                syscall(SYS_FUTEX, &word as *const u32, FUTEX_WAKE_PRIVATE, 1 as c_long);
            }
        }
    }
}

/// A zero nanosleep and a futex wake-up (what Rust's std locks and sleeps
/// reach libc through) must each read one call of their own kind, so that
/// assert_nonblocking! cannot pass on a counter that misses them.
fn calibrate_blocking(api: &Api) -> Result<(), String> {
    for name in BLOCKING.iter() {
        let kind = (ffi::MEMORY_KINDS..ffi::KIND_COUNT).find(|&k| ffi::kind_name(api, k) == *name);
        let kind = match kind {
            Some(k) => k,
            None => return Err(format!("calibration: the interposer has no kind {}", name)),
        };
        let mut raw = RawCounts::ZERO;
        // SAFETY: a window on this thread around one libc call.
        unsafe {
            (api.open)(ffi::THIS_THREAD as c_uint);
            call_blocking(name);
            (api.close)(&mut raw);
        }
        let total = raw.allocs + raw.frees + raw.os + raw.blocking;
        if raw.calls[kind] != 1 || total != 1 {
            return Err(format!(
                "calibration: one {}() read {} call(s) of its kind and {} in all, expected 1 and 1",
                name, raw.calls[kind], total
            ));
        }
    }
    Ok(())
}
