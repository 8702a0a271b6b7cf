"""The reports' charts as SVG, drawn here without a plotting library.

Two kinds of chart, both plain SVG 1.1 text (no script, no external font,
no raster): a bar chart in panels (report.html's allocations per dispatch:
one panel per opt-level, two bars per fixture) and a line chart (the
release index's trend).  SVG keeps report.html one self-contained file
(the chart is inlined) and costs a few milliseconds, where importing a
plotting library cost about a second on every audit run.

The geometry is computed from the data alone: a y axis from 0 to a "nice"
top (1, 2 or 5 times a power of ten) with five grid lines; x labels turned
45 degrees when there are many of them; text escaped.
"""

import math
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

FONT = "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\""
RED = "#b71c1c"
GREY = "#777"
# Line colours for the trend chart, cycled (colour-blind-safe order).
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")


def nice_top(value):
    """The smallest of 1, 2, 5 x 10^k that is >= value (1 for nothing)."""
    if value <= 0:
        return 1.0
    exp = math.floor(math.log10(value))
    for m in (1, 2, 5, 10):
        top = m * 10 ** exp
        if top >= value * (1 - 1e-12):
            return float(top)
    return float(10 ** (exp + 1))


def number(v):
    """A tick or value label: integers without a point, else 2 decimals."""
    return str(int(round(v))) if abs(v - round(v)) < 1e-9 else f"{v:.2f}"


def _attr(v):
    return escape(str(v), {'"': "&quot;"})


class Canvas:
    """SVG elements collected in order; str() is the document."""

    def __init__(self, width, height, title):
        self.width, self.height, self.items = width, height, []
        self.title = title

    def add(self, tag, text=None, **attrs):
        a = " ".join(f'{k.rstrip("_").replace("_", "-")}="{_attr(v)}"' for k, v in attrs.items())
        if text is None:
            self.items.append(f"<{tag} {a}/>")
        else:
            self.items.append(f"<{tag} {a}>{escape(str(text))}</{tag}>")

    def text(self, x, y, s, size=11, anchor="middle", color="#333", bold=False, rotate=None):
        extra = {"transform": f"rotate({rotate} {x:.1f} {y:.1f})"} if rotate is not None else {}
        self.add("text", s, x=f"{x:.1f}", y=f"{y:.1f}", font_size=size, text_anchor=anchor,
                 fill=color, font_weight="bold" if bold else "normal", **extra)

    def __str__(self):
        head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.width}" height="{self.height}" '
                f'viewBox="0 0 {self.width} {self.height}" role="img" {FONT}>')
        return "\n".join([head, f"<title>{escape(self.title)}</title>",
                          f'<rect x="0" y="0" width="{self.width}" height="{self.height}" fill="#fff"/>',
                          *self.items, "</svg>"]) + "\n"


@dataclass
class Frame:
    """A plot area: its box on the canvas and the y scale (0 .. top)."""
    x: float
    y: float
    w: float
    h: float
    top: float

    def ypos(self, v):
        return self.y + self.h - (max(0.0, v) / self.top) * self.h


def axes(c, f, ylabel, title):
    """Grid lines with their values, the y label and the panel title."""
    for i in range(6):
        v = f.top * i / 5
        y = f.ypos(v)
        c.add("line", x1=f"{f.x:.1f}", y1=f"{y:.1f}", x2=f"{f.x + f.w:.1f}", y2=f"{y:.1f}",
              stroke="#ddd" if i else "#888", stroke_width=1)
        c.text(f.x - 6, y + 4, number(v), size=10, anchor="end")
    c.text(f.x - 40, f.y + f.h / 2, ylabel, size=10, rotate=-90)
    if title:
        c.text(f.x + f.w / 2, f.y - 10, title, size=12, bold=True)


def x_labels(c, f, names, xs, red=()):
    """Category labels under the plot, turned when they would collide."""
    turn = turned(names, f.w)
    for x, n in zip(xs, names):
        bad = n in red
        if turn:
            c.text(x, f.y + f.h + 14, n, size=10, anchor="end", color=RED if bad else "#333", bold=bad,
                   rotate=-45)
        else:
            c.text(x, f.y + f.h + 16, n, size=10, color=RED if bad else "#333", bold=bad)


def turned(names, width):
    """Whether x labels over `width` are turned 45 degrees: when one is
    wider than its slot."""
    slot = width / max(1, len(names))
    return any(len(n) * 6.5 > slot for n in names)


def label_room(names, width):
    """Height under a plot for its x labels (turned labels need more)."""
    if not turned(names, width):
        return 30
    return int(max(len(n) for n in names) * 6.5 * 0.72) + 24


@dataclass
class Series:
    """One bar series: a legend label, a colour and a value per category
    (None: not run there)."""
    label: str
    color: str
    values: list
    annotate: bool = False     # write each value above its bar (red when not 0)


@dataclass
class Panel:
    title: str
    series: list = field(default_factory=list)


def legend(c, x, y, entries):
    """Colour swatches with labels, left to right from (x, y)."""
    for label, color in entries:
        c.add("rect", x=f"{x:.1f}", y=f"{y - 9:.1f}", width=12, height=10, fill=color)
        c.text(x + 16, y, label, size=10, anchor="start")
        x += 16 + len(label) * 6.2 + 18


def bar_chart(names, panels, title, ylabel, red=()):
    """Grouped bars, one panel under the other, sharing the y scale; a
    category in `red` has a red label.  Returns the SVG text."""
    values = [v for p in panels for s in p.series for v in s.values if v is not None]
    top = nice_top(max(values + [0.0]) * 1.12)
    plot_w = max(420, 46 * len(names))
    room = label_room(names, plot_w)
    panel_h = 48 + 190 + room + 16
    width, height = int(plot_w + 110), int(36 + panel_h * len(panels))
    c = Canvas(width, height, title)
    c.text(width / 2, 20, title, size=13, bold=True)
    for i, p in enumerate(panels):
        top_y = 36 + i * panel_h
        f = Frame(x=70, y=top_y + 48, w=plot_w, h=190, top=top)
        axes(c, f, ylabel, None)
        c.text(f.x, top_y + 16, p.title, size=12, anchor="start", bold=True)
        legend(c, f.x, top_y + 36, [(s.label, s.color) for s in p.series])
        _bars(c, f, names, p.series)
        slot = f.w / max(1, len(names))
        x_labels(c, f, names, [f.x + slot * (k + 0.5) for k in range(len(names))], red)
    return str(c)


def _bars(c, f, names, series):
    slot = f.w / max(1, len(names))
    bw = slot * 0.8 / max(1, len(series))
    for k in range(len(names)):
        for j, s in enumerate(series):
            x = f.x + slot * k + slot * 0.1 + j * bw
            v = s.values[k]
            if v is None:
                if s.annotate:
                    c.text(x + bw / 2, f.y + f.h - 4, "not run", size=8, color=GREY, rotate=-90,
                           anchor="start")
                continue
            y = f.ypos(v)
            c.add("rect", x=f"{x:.1f}", y=f"{y:.1f}", width=f"{bw:.1f}", height=f"{f.y + f.h - y:.1f}",
                  fill=s.color)
            if s.annotate:
                c.text(x + bw / 2, y - 3, number(v) if v == 0 else f"{v:.2f}", size=9,
                       color=RED if v else "#333", bold=bool(v))


def line_chart(labels, lines, title, ylabel, rings=()):
    """One line per entry of `lines` ({name: [value or None per label]}),
    a point per value, a red ring at each (index, name) in `rings`, the
    legend at the right.  Returns the SVG text."""
    values = [v for ys in lines.values() for v in ys if v is not None]
    top = nice_top(max(values + [0.0]) * 1.12)
    plot_w = max(360, 110 * len(labels))
    room = label_room(labels, plot_w)
    legend_w = 40 + 6.5 * max([len(n) for n in lines] + [4])
    width, height = int(70 + plot_w + legend_w), int(60 + 260 + room)
    c = Canvas(width, height, title)
    f = Frame(x=70, y=50, w=plot_w, h=260, top=top)
    axes(c, f, ylabel, title)
    step = f.w / max(1, len(labels))
    xs = [f.x + step * (i + 0.5) for i in range(len(labels))]
    for n, (name, ys) in enumerate(sorted(lines.items())):
        color = PALETTE[n % len(PALETTE)]
        _polyline(c, f, xs, ys, color)
        for i, y in enumerate(ys):
            if y is not None and (i, name) in rings:
                c.add("circle", cx=f"{xs[i]:.1f}", cy=f"{f.ypos(y):.1f}", r=8, fill="none", stroke=RED,
                      stroke_width=2)
        ly = f.y + 10 + 16 * n
        c.add("line", x1=f"{f.x + f.w + 16:.1f}", y1=f"{ly - 4:.1f}", x2=f"{f.x + f.w + 34:.1f}",
              y2=f"{ly - 4:.1f}", stroke=color, stroke_width=2)
        c.text(f.x + f.w + 40, ly, name, size=10, anchor="start")
    x_labels(c, f, labels, xs)
    return str(c)


def _polyline(c, f, xs, ys, color):
    """The line through the points that exist (a gap where one is None)."""
    run = []
    for x, y in list(zip(xs, ys)) + [(None, None)]:
        if y is None:
            if len(run) > 1:
                c.add("polyline", points=" ".join(f"{a:.1f},{b:.1f}" for a, b in run), fill="none",
                      stroke=color, stroke_width=2)
            run = []
            continue
        run.append((x, f.ypos(y)))
        c.add("circle", cx=f"{x:.1f}", cy=f"{f.ypos(y):.1f}", r=3, fill=color)
