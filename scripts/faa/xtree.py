"""Reading Valgrind's --xtree-memory=full files (Massif format): one
detailed tree per event (curB, curBk, totB, totBk, totFdB, totFdBk), a
header line `nC: TOTAL EVENT : what` at column 0, then one node per line,
indented by its depth: `nC: COUNT TEXT` (C children; TEXT the frame,
`0xADDR: FUNCTION (FILE:LINE)`).  A memcheck run's file is some 130,000
lines, nearly all of them std's and the harness's, of which a reader wants
two trees: these pick the trees out without reading the others and read a
node with string operations."""

def _headers(text):
    """Offsets of the lines that start with `n` and have a `:`."""
    out, at = [], 0
    while True:
        if text.startswith("n", at):
            end = text.find("\n", at)
            if ":" in (text[at:] if end < 0 else text[at:end]):
                out.append(at)
        nxt = text.find("\nn", at)
        if nxt < 0:
            return out
        at = nxt + 1


def trees(text, events, naming=None):
    """(event, [node lines]) of each tree whose event is in `events`, in
    file order.  A header is a line that starts with `n` and has a `:`;
    its event is its third word.  With `naming` (strings), a tree whose
    text holds none of them is left out: no node of it can name one (a
    no_alloc library's trees seldom name its module at all); so is a tree
    with no node."""
    starts = _headers(text) + [len(text)]
    for a, b in zip(starts, starts[1:]):
        end = text.find("\n", a, b)
        head = text[a:end if end >= 0 else b].split()
        if end < 0 or len(head) < 3 or head[2] not in events:
            continue
        if naming is None or any(text.find(n, end, b) >= 0 for n in naming):
            yield head[2], text[end + 1:b].splitlines()


def node(line):
    """(depth, children, count, text) of a node line `  nC: COUNT TEXT`,
    or None when the line is not one."""
    text = line.lstrip(" ")
    head, sep, tail = text.partition(": ")
    count, sp, rest = tail.partition(" ")
    if not (sep and sp and head[:1] == "n" and head[1:].isdigit() and count.isdigit()):
        return None
    return len(line) - len(text), int(head[1:]), int(count), rest
