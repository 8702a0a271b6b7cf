#!/usr/bin/env python3
"""Check that libaudit.so exports exactly the intended dynamic symbols.

The exported set is the interposer's contract with the dynamic linker:
an extra symbol can interpose something in every audited process, a
missing one silently stops counting a function.  Exit 0 when
`nm -D --defined-only LIB` lists exactly EXPECTED, 1 otherwise (with the
difference), 2 on usage errors.

--self-test proves the comparison can go red: it checks that a list with
one name removed and one bogus name added is reported as both an extra
and a missing symbol.
"""
import argparse
import subprocess
import sys

EXPECTED = frozenset({
    # hooked allocator family
    "malloc", "calloc", "realloc", "reallocarray", "free",
    "posix_memalign", "aligned_alloc", "memalign", "valloc", "pvalloc",
    # glibc's exported aliases of it, counted under the public kind
    "__libc_malloc", "__libc_calloc", "__libc_realloc", "__libc_reallocarray",
    "__libc_free", "__libc_memalign", "__libc_valloc", "__libc_pvalloc",
    # memory from the OS through libc
    "mmap", "mmap64", "__mmap", "mremap", "munmap", "__munmap",
    "brk", "sbrk", "__sbrk", "syscall",
    # calls that can block or take a lock (audit.h's blocking kinds)
    "pthread_mutex_lock", "pthread_mutex_trylock", "pthread_mutex_timedlock",
    "pthread_rwlock_rdlock", "pthread_rwlock_tryrdlock", "pthread_rwlock_timedrdlock",
    "pthread_rwlock_wrlock", "pthread_rwlock_trywrlock", "pthread_rwlock_timedwrlock",
    "pthread_cond_wait", "pthread_cond_timedwait", "sem_wait", "sem_timedwait",
    "pthread_join", "nanosleep", "clock_nanosleep", "usleep", "sleep",
    "read", "write", "open", "open64", "openat", "openat64", "poll", "select",
    "epoll_wait", "accept", "accept4", "connect", "recv", "recvfrom", "recvmsg",
    "send", "sendto", "sendmsg", "fsync",
    # passed through uncounted
    "malloc_usable_size",
    # window API (audit.h)
    "audit_loaded", "audit_window_open", "audit_window_close",
    "audit_kind_name", "audit_thread_state", "audit_window_sites",
})


def exported(nm: str, lib: str) -> set[str]:
    cmd = [nm, "-D", "--defined-only", lib]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        sys.exit(f"check_exports: {' '.join(cmd)} failed:\n{res.stderr}")
    names = set()
    for line in res.stdout.splitlines():
        fields = line.split()
        if len(fields) >= 3:
            names.add(fields[2].split("@")[0])
    return names


def compare(actual: set[str], expected: frozenset[str]) -> list[str]:
    problems = [f"unexpected export: {n}" for n in sorted(actual - expected)]
    problems += [f"missing export: {n}" for n in sorted(expected - actual)]
    return problems


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nm", default="nm", help="nm program (default: nm)")
    ap.add_argument("--self-test", action="store_true",
                    help="check that the comparison detects a wrong list")
    ap.add_argument("lib", help="path to libaudit.so")
    args = ap.parse_args()

    actual = exported(args.nm, args.lib)
    if args.self_test:
        wrong = (EXPECTED - {"free"}) | {"audit_bogus"}
        got = compare(actual, wrong)
        want = ["unexpected export: free", "missing export: audit_bogus"]
        if got != want:
            print(f"self-test: expected {want}, got {got}")
            return 1
        print("self-test: a wrong list is reported")
        return 0

    problems = compare(actual, EXPECTED)
    for p in problems:
        print(p)
    if problems:
        print(f"{args.lib}: exported symbol set differs from the intended list")
        return 1
    print(f"{args.lib}: exports exactly {len(EXPECTED)} intended symbols")
    return 0


if __name__ == "__main__":
    sys.exit(main())
