//! `ffi::RawCounts` and `ffi::RawSite` against `struct audit_counts` and
//! `struct audit_site` (and the constants they use) as the C compiler lays
//! it out from the installed audit.h: the header's flags come from
//! `FAA_AUDIT_CFLAGS`, else `pkg-config --cflags frame-alloc-audit`; the C
//! compiler is `CC`, else `cc`.

use std::process::Command;

const PROBE: &str = r#"
#include <stddef.h>
#include <stdio.h>
#include "audit.h"
#define F(m) printf(#m " %zu %zu\n", offsetof(struct audit_counts, m), \
                    sizeof(((struct audit_counts *)0)->m))
#define S(m) printf("site." #m " %zu %zu\n", offsetof(struct audit_site, m), \
                    sizeof(((struct audit_site *)0)->m))
int main(void)
{
	printf("size %zu\nalign %zu\nkinds %d\nframes %d\nversion %d\n",
	       sizeof(struct audit_counts), _Alignof(struct audit_counts),
	       (int)AUDIT_KIND_COUNT, (int)AUDIT_MAX_FRAMES, AUDIT_API_VERSION);
	F(calls); F(allocs); F(frees); F(os); F(bytes); F(live_peak);
	F(nframes); F(first_kind); F(first_tid); F(opener_tid); F(frames);
	F(blocking); F(nsites); F(reserved); F(sites_lost);
	printf("site size %zu align %zu max %d\n", sizeof(struct audit_site),
	       _Alignof(struct audit_site), (int)AUDIT_MAX_SITES);
	S(calls); S(kind); S(nframes); S(frames);
	return 0;
}
"#;

fn cflags() -> Vec<String> {
    let flags = match std::env::var("FAA_AUDIT_CFLAGS") {
        Ok(f) => f,
        Err(_) => {
            let out = Command::new("pkg-config")
                .args(["--cflags", "frame-alloc-audit"])
                .output()
                .expect("pkg-config runs");
            assert!(
                out.status.success(),
                "pkg-config does not find frame-alloc-audit (set PKG_CONFIG_PATH to the \
                 installed copy, or FAA_AUDIT_CFLAGS=-I<dir of audit.h>): {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).into_owned()
        }
    };
    flags.split_whitespace().map(|s| s.to_string()).collect()
}

#[test]
fn raw_counts_has_the_layout_of_the_c_header() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let src = dir.join("audit_layout_probe.c");
    let exe = dir.join("audit_layout_probe");
    std::fs::write(&src, PROBE).unwrap();
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let st = Command::new(&cc)
        .args(cflags())
        .arg("-o")
        .arg(&exe)
        .arg(&src)
        .status()
        .expect("the C compiler runs");
    assert!(st.success(), "{} could not compile the layout probe", cc);
    let out = Command::new(&exe).output().expect("the probe runs");
    let c = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        frame_alloc_audit::ffi::layout(),
        c,
        "bindings/rust/src/ffi.rs (left) no longer matches audit.h (right)"
    );
}
