//! Where a captured return address is: object and offset with `dladdr`,
//! then function, file and line with binutils' `addr2line` (`ADDR2LINE`
//! to use another), run only when a message is being formatted, after the
//! window closed.  Without addr2line the address and object+offset stay.

use std::os::raw::{c_char, c_int, c_void};
use std::process::Command;

#[repr(C)]
struct DlInfo {
    fname: *const c_char,
    fbase: *mut c_void,
    sname: *const c_char,
    saddr: *mut c_void,
}

extern "C" {
    fn dladdr(addr: *const c_void, info: *mut DlInfo) -> c_int;
}

/// One source position of a return address: a frame has several when
/// calls were inlined into it (innermost first).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Position {
    pub function: String,
    pub file: String,
    pub line: u32,
}

/// A captured return address, resolved as far as the tools allow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    pub addr: usize,
    /// The object it lies in ("" when dladdr does not know it).
    pub object: String,
    /// The address as the object's debug info numbers it.
    pub offset: usize,
    /// Innermost first; empty when addr2line could not say.
    pub positions: Vec<Position>,
}

fn cstr(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: dladdr's strings are NUL-terminated and live while the
    // object is loaded.
    unsafe { std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned() }
}

/// Object and debug-info address of `addr`.  A return address points after
/// its call, so `addr - 1` is looked up: it is inside the call instruction.
fn object_of(addr: usize) -> (String, usize) {
    let mut info = DlInfo {
        fname: std::ptr::null(),
        fbase: std::ptr::null_mut(),
        sname: std::ptr::null(),
        saddr: std::ptr::null_mut(),
    };
    // SAFETY: dladdr only fills `info`.
    if unsafe { dladdr(addr as *const c_void, &mut info) } == 0 || info.fbase.is_null() {
        return (String::new(), addr);
    }
    let mut object = cstr(info.fname);
    if object.is_empty() || !object.starts_with('/') {
        object = std::fs::read_link("/proc/self/exe")
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or(object);
    }
    // e_type at offset 16 of the ELF header mapped at fbase: 2 (ET_EXEC)
    // is linked at its addresses, anything else (PIE, .so) at fbase.
    // SAFETY: the first page of a loaded object holds its ELF header.
    let e_type = unsafe { std::ptr::read_unaligned((info.fbase as *const u8).add(16) as *const u16) };
    let base = if e_type == 2 { 0 } else { info.fbase as usize };
    (object, addr - 1 - base)
}

/// Runs addr2line once for the frames of one object and fills their
/// positions.
fn run_addr2line(object: &str, frames: &mut [&mut Frame]) {
    let tool = std::env::var("ADDR2LINE").unwrap_or_else(|_| "addr2line".to_string());
    let mut cmd = Command::new(tool);
    cmd.args(["-a", "-f", "-C", "-i", "-e", object]);
    for f in frames.iter() {
        cmd.arg(format!("{:#x}", f.offset));
    }
    let out = match cmd.output() {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).into_owned(),
        _ => return,
    };
    let mut idx: Option<usize> = None;
    let mut lines = out.lines();
    while let Some(l) = lines.next() {
        if l.starts_with("0x") && u64::from_str_radix(&l[2..], 16).is_ok() {
            idx = Some(idx.map_or(0, |i| i + 1));
            continue;
        }
        let at = match lines.next() {
            Some(at) => at,
            None => break,
        };
        if let Some(f) = idx.and_then(|i| frames.get_mut(i)) {
            if let Some(p) = position(l, at) {
                f.positions.push(p);
            }
        }
    }
}

/// "function" and "file:line (discriminator N)" → a position; None for ??.
fn position(function: &str, at: &str) -> Option<Position> {
    let at = at.split(" (").next().unwrap_or(at);
    let colon = at.rfind(':')?;
    let file = &at[..colon];
    let line = at[colon + 1..].trim().parse::<u32>().unwrap_or(0);
    if file == "??" || line == 0 {
        return None;
    }
    Some(Position { function: function.to_string(), file: file.to_string(), line })
}

/// Resolves every address: one addr2line run per object.
pub fn resolve(addrs: &[usize]) -> Vec<Frame> {
    let mut frames: Vec<Frame> = addrs
        .iter()
        .map(|&addr| {
            let (object, offset) = object_of(addr);
            Frame { addr, object, offset, positions: Vec::new() }
        })
        .collect();
    let mut objects: Vec<String> = frames.iter().map(|f| f.object.clone()).collect();
    objects.sort();
    objects.dedup();
    for obj in objects.iter().filter(|o| !o.is_empty()) {
        let mut mine: Vec<&mut Frame> = frames.iter_mut().filter(|f| &f.object == obj).collect();
        run_addr2line(obj, &mut mine);
    }
    frames
}

/// Rust's own library code: the allocator path from `Box::new` or
/// `Vec::push` down to malloc runs through it before it reaches the
/// caller's code.
fn is_runtime(file: &str) -> bool {
    ["/library/std/", "/library/alloc/", "/library/core/", "/rustc/"]
        .iter()
        .any(|p| file.contains(p))
}

/// The first position (innermost) outside Rust's runtime: the line of the
/// caller's code that made the call.  None when no frame resolves there.
pub fn caller(frames: &[Frame]) -> Option<&Position> {
    frames
        .iter()
        .flat_map(|f| f.positions.iter())
        .find(|p| !is_runtime(&p.file))
}
