//! The C API of `audit.h`, mirrored by hand, and its run-time binding.
//!
//! `RawCounts` must have `struct audit_counts`'s exact layout: the binding
//! resolves the interposer's functions with `dlsym` (it never links
//! libaudit.so, as audit.h asks) and hands `audit_window_close` a pointer to
//! one.  `tests/layout.rs` compares every offset with a C program compiled
//! against the installed header, and `API_VERSION` must equal what
//! `audit_loaded()` returns, so a header change cannot go unnoticed.

use std::os::raw::{c_char, c_int, c_uint, c_void};

/// `AUDIT_API_VERSION` of the audit.h this file mirrors.
pub const API_VERSION: c_int = 3;
/// `AUDIT_HEAP_KINDS`: malloc .. pvalloc (kind indices 0 .. 10).
pub const HEAP_KINDS: usize = 10;
/// `AUDIT_MEMORY_KINDS`: the heap kinds and the OS kinds (mmap .. sbrk).
pub const MEMORY_KINDS: usize = 15;
/// `AUDIT_KIND_COUNT`: the memory kinds and the blocking kinds.
pub const KIND_COUNT: usize = 50;
/// `AUDIT_MAX_FRAMES`.
pub const MAX_FRAMES: usize = 48;
/// `AUDIT_MAX_SITES`: the call-site table's size.
pub const MAX_SITES: usize = 32;
/// `AUDIT_MALLOC` and the other kinds the calibration calls.
pub const MALLOC: usize = 0;
pub const CALLOC: usize = 1;
pub const REALLOC: usize = 2;
pub const FREE: usize = 4;
pub const POSIX_MEMALIGN: usize = 5;

/// Window flags (`AUDIT_THIS_THREAD`, `AUDIT_ALL_THREADS`,
/// `AUDIT_CAPTURE_STACK`).
pub const THIS_THREAD: c_uint = 0;
pub const ALL_THREADS: c_uint = 1;
pub const CAPTURE_STACK: c_uint = 2;

/// `struct audit_counts`, field for field.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct RawCounts {
    pub calls: [u64; KIND_COUNT],
    pub allocs: u64,
    pub frees: u64,
    pub os: u64,
    pub bytes: u64,
    pub live_peak: u64,
    pub nframes: u32,
    pub first_kind: u32,
    pub first_tid: i32,
    pub opener_tid: i32,
    pub frames: [usize; MAX_FRAMES],
    pub blocking: u64,
    pub nsites: u32,
    pub reserved: u32,
    pub sites_lost: u64,
}

impl RawCounts {
    pub const ZERO: RawCounts = RawCounts {
        calls: [0; KIND_COUNT],
        allocs: 0,
        frees: 0,
        os: 0,
        bytes: 0,
        live_peak: 0,
        nframes: 0,
        first_kind: 0,
        first_tid: 0,
        opener_tid: 0,
        frames: [0; MAX_FRAMES],
        blocking: 0,
        nsites: 0,
        reserved: 0,
        sites_lost: 0,
    };
}

/// `struct audit_site`, field for field.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct RawSite {
    pub calls: u64,
    pub kind: u32,
    pub nframes: u32,
    pub frames: [usize; MAX_FRAMES],
}

impl RawSite {
    pub const ZERO: RawSite = RawSite { calls: 0, kind: 0, nframes: 0, frames: [0; MAX_FRAMES] };
}

/// `name offset size` of one field of the struct behind `base`.
macro_rules! field_line {
    ($out:ident, $base:ident, $prefix:expr, $f:ident) => {{
        // SAFETY: only the address is taken, nothing is read.
        let p = unsafe { std::ptr::addr_of!((*$base).$f) };
        let off = p as usize - $base as usize;
        let size = std::mem::size_of_val(unsafe { &*p });
        $out.push_str(&format!("{}{} {} {}\n", $prefix, stringify!($f), off, size));
    }};
}

/// Size, alignment and every field's offset and size, one `name offset
/// size` line each, in the order `tests/layout.rs`'s C program prints them.
pub fn layout() -> String {
    let v = std::mem::MaybeUninit::<RawCounts>::uninit();
    let base = v.as_ptr();
    let mut out = format!(
        "size {}\nalign {}\nkinds {}\nframes {}\nversion {}\n",
        std::mem::size_of::<RawCounts>(),
        std::mem::align_of::<RawCounts>(),
        KIND_COUNT,
        MAX_FRAMES,
        API_VERSION
    );
    for_each_counts_field(&mut out, base);
    let site = std::mem::MaybeUninit::<RawSite>::uninit();
    let sbase = site.as_ptr();
    out.push_str(&format!(
        "site size {} align {} max {}\n",
        std::mem::size_of::<RawSite>(),
        std::mem::align_of::<RawSite>(),
        MAX_SITES
    ));
    field_line!(out, sbase, "site.", calls);
    field_line!(out, sbase, "site.", kind);
    field_line!(out, sbase, "site.", nframes);
    field_line!(out, sbase, "site.", frames);
    out
}

fn for_each_counts_field(out: &mut String, base: *const RawCounts) {
    field_line!(out, base, "", calls);
    field_line!(out, base, "", allocs);
    field_line!(out, base, "", frees);
    field_line!(out, base, "", os);
    field_line!(out, base, "", bytes);
    field_line!(out, base, "", live_peak);
    field_line!(out, base, "", nframes);
    field_line!(out, base, "", first_kind);
    field_line!(out, base, "", first_tid);
    field_line!(out, base, "", opener_tid);
    field_line!(out, base, "", frames);
    field_line!(out, base, "", blocking);
    field_line!(out, base, "", nsites);
    field_line!(out, base, "", reserved);
    field_line!(out, base, "", sites_lost);
}

extern "C" {
    fn dlsym(handle: *mut c_void, symbol: *const c_char) -> *mut c_void;
}

/// The interposer's entry points, resolved at run time.
#[derive(Clone, Copy)]
pub struct Api {
    pub loaded: unsafe extern "C" fn() -> c_int,
    pub open: unsafe extern "C" fn(c_uint),
    pub close: unsafe extern "C" fn(*mut RawCounts) -> c_int,
    pub kind_name: unsafe extern "C" fn(c_uint) -> *const c_char,
    pub sites: unsafe extern "C" fn(*mut RawSite, c_uint) -> c_int,
}

/// Looks `name` (NUL-terminated) up in the process's global scope
/// (`RTLD_DEFAULT`, a null handle in glibc).
fn lookup(name: &[u8]) -> Result<*mut c_void, String> {
    // SAFETY: name is NUL-terminated; dlsym only reads it.
    let p = unsafe { dlsym(std::ptr::null_mut(), name.as_ptr() as *const c_char) };
    if p.is_null() {
        let shown = String::from_utf8_lossy(&name[..name.len() - 1]).into_owned();
        return Err(format!("{}() not found", shown));
    }
    Ok(p)
}

/// Resolves the API, as audit.h's `audit_api_resolve` does, and checks its
/// version.
pub fn resolve() -> Result<Api, String> {
    let loaded = lookup(b"audit_loaded\0")?;
    let open = lookup(b"audit_window_open\0")?;
    let close = lookup(b"audit_window_close\0")?;
    let kind_name = lookup(b"audit_kind_name\0")?;
    let sites = lookup(b"audit_window_sites\0")?;
    // SAFETY: the symbols are libaudit.so's functions with these C types.
    let api = unsafe {
        Api {
            loaded: std::mem::transmute::<*mut c_void, unsafe extern "C" fn() -> c_int>(loaded),
            open: std::mem::transmute::<*mut c_void, unsafe extern "C" fn(c_uint)>(open),
            close: std::mem::transmute::<*mut c_void, unsafe extern "C" fn(*mut RawCounts) -> c_int>(
                close,
            ),
            kind_name: std::mem::transmute::<
                *mut c_void,
                unsafe extern "C" fn(c_uint) -> *const c_char,
            >(kind_name),
            sites: std::mem::transmute::<
                *mut c_void,
                unsafe extern "C" fn(*mut RawSite, c_uint) -> c_int,
            >(sites),
        }
    };
    // SAFETY: audit_loaded takes nothing and only returns a constant.
    let version = unsafe { (api.loaded)() };
    if version != API_VERSION {
        return Err(format!(
            "the interposer speaks API version {}, this binding version {} \
             (use the binding installed with that libaudit.so)",
            version, API_VERSION
        ));
    }
    Ok(api)
}

/// The name the interposer gives a kind ("malloc", "futex", …).
pub fn kind_name(api: &Api, kind: usize) -> &'static str {
    // SAFETY: audit_kind_name returns a string literal of libaudit.so
    // ("?" when out of range), which stays mapped: a preload is never
    // unloaded.
    unsafe {
        let p = (api.kind_name)(kind as c_uint);
        if p.is_null() {
            return "?";
        }
        std::ffi::CStr::from_ptr(p).to_str().unwrap_or("?")
    }
}
