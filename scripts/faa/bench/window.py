"""Section 2, one window around nothing: the full API (dlsym'd
audit_window_open/close, as the harness does) and the fast window (audit.h's
inline audit_fast_open/close), from section 1's preloaded runs."""

from .common import fmt, median, ratio, say, verdict

GOAL_WINDOW_NS = 2.0


def window(pre):
    """Section 2's figures from faa-alloc-bench's preloaded runs."""
    api = median([r.get("window_api") for r in pre])
    fast = median([r.get("window_fast") for r in pre])
    loop = median([r.get("loop") for r in pre])
    return {"api_ns": api, "fast_ns": fast, "loop_ns": loop,
            "fast_net_ns": None if fast is None or loop is None else max(0.0, fast - loop),
            "api_over_fast": ratio(api, fast), "goal_ns": GOAL_WINDOW_NS,
            "met": None if fast is None else fast <= GOAL_WINDOW_NS}


def print_window(w):
    say(f"== 2. one window (open + close around nothing; goal <= {w['goal_ns']:.0f} ns)")
    say(f"full window, dlsym'd audit_window_open/close (harness path): {fmt(w['api_ns'])} ns")
    say(f"fast window, inline audit_fast_open/close (audit.h):          {fmt(w['fast_ns'])} ns "
        f"(incl. {fmt(w['loop_ns'])} ns loop; net {fmt(w['fast_net_ns'])} ns)")
    say(f"full / fast: {fmt(w['api_over_fast'], '.1f')}x; fast window goal {verdict(w['met'])}")
    say()
