"""Charts of an agent's context evolution (matplotlib, headless), as PNG or SVG.

One figure tells the story at a glance: how big the context grew and how well it compresses,
what the agent did in each time bucket, what it remembered and forgot, and which tools it used;
checkpoints and restores are marked across every panel.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ctxstore.application.store import from_us
from ctxstore.projections.analysis import EvolutionAnalysis, analyse
from ctxstore.projections.evolution import BUCKETS
from ctxstore.projections.views import ContextViews

if TYPE_CHECKING:
    from matplotlib.axes import Axes

FORMATS = (".png", ".svg")
ROLE_COLOURS = {"system": "#9aa5b1", "user": "#3b82f6", "assistant": "#10b981",
                "tool": "#f59e0b"}
RAW_COLOUR, STORED_COLOUR, RATIO_COLOUR = "#94a3b8", "#6366f1", "#db2777"
MEMORY_COLOUR, ADDED_COLOUR, FORGOT_COLOUR = "#0ea5e9", "#22c55e", "#ef4444"
# Legends sit in one row at the top of each panel, in headroom the y limits leave free.
HEADROOM = 1.5
LEGEND: dict[str, Any] = {"loc": "upper left", "ncol": 5, "frameon": False, "fontsize": 8.5,
                          "columnspacing": 1.2, "handlelength": 1.6}


def _bytes(value: float, _pos: object = None) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if abs(value) < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"  # pragma: no cover


def render_evolution_plot(views: ContextViews, agent_id: str, path: Path | str, *,
                          bucket: str = "minute", since_us: int | None = None,
                          until_us: int | None = None, title: str | None = None) -> Path:
    """Draw an agent's evolution from the read model into FILE.png or FILE.svg; returns the path.

    Raises ValueError when the agent has no projected events in the period or the file type
    is not one of .png and .svg.
    """
    return plot_analysis(analyse(views, agent_id, bucket, since_us, until_us), path, title=title)


def plot_analysis(analysis: EvolutionAnalysis, path: Path | str, *,
                  title: str | None = None) -> Path:
    # matplotlib loads only when a chart is drawn: every CLI start would pay for it otherwise.
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise ValueError(f"plot: {path.name!r} must end in .png or .svg")
    windows = analysis.windows
    if not windows:
        raise ValueError(f"agent: {analysis.agent_id!r} has no projected events in this period "
                         "(is `ctxstore project` running?)")
    width_days = BUCKETS[analysis.bucket] / 86_400e6
    starts = [from_us(w.start_us) for w in windows]
    centres = [mdates.date2num(s) + width_days / 2 for s in starts]
    ends = [mdates.date2num(s) + width_days for s in starts]

    fig = plt.figure(figsize=(13, 9.5), dpi=110, layout="constrained")
    grid = fig.add_gridspec(3, 2, width_ratios=(4.2, 1.3), height_ratios=(1.25, 1, 1))
    ax_size = fig.add_subplot(grid[0, 0])
    ax_act = fig.add_subplot(grid[1, 0], sharex=ax_size)
    ax_mem = fig.add_subplot(grid[2, 0], sharex=ax_size)
    ax_tools = fig.add_subplot(grid[0:2, 1])
    ax_text = fig.add_subplot(grid[2, 1])

    # Size: history bytes after each bucket (flat through quiet gaps), compression per bucket.
    edges = [mdates.date2num(s) for s in starts] + [ends[-1]]
    for values, colour, alpha, label in (
        ([w.context_raw_bytes for w in windows], RAW_COLOUR, 0.18, "raw (canonical JSON)"),
        ([w.context_stored_bytes for w in windows], STORED_COLOUR, 0.35, "stored (compressed)"),
    ):
        values = values + values[-1:]
        ax_size.fill_between(edges, values, step="post", alpha=alpha, color=colour, lw=0)
        ax_size.step(edges, values, where="post", color=colour, lw=2, label=label)
    ax_size.yaxis.set_major_formatter(FuncFormatter(_bytes))
    ax_size.set_ylabel("context history")
    ax_size.set_ylim(0, max(w.context_raw_bytes for w in windows) * HEADROOM)
    ratio_ax = ax_size.twinx()
    ratios = [(c, w.compression_ratio) for c, w in zip(centres, windows, strict=True)
              if w.compression_ratio is not None]
    if ratios:
        ratio_ax.plot([c for c, _ in ratios], [r for _, r in ratios], "o--", color=RATIO_COLOUR,
                      ms=4, lw=1.2, label="compression ratio (per bucket)")
        ratio_ax.set_ylim(0, max(r for _, r in ratios) * HEADROOM)
    ratio_ax.set_ylabel("stored ÷ raw", color=RATIO_COLOUR)
    ratio_ax.tick_params(axis="y", colors=RATIO_COLOUR)
    handles = ax_size.get_legend_handles_labels()[0] + ratio_ax.get_legend_handles_labels()[0]
    ax_size.legend(handles=handles, **LEGEND)
    ax_size.set_title("Context size and compression", loc="left", fontsize=11)

    # Activity: messages by role (stacked), tool calls and errors.
    bottom = [0] * len(windows)
    for role, colour in ROLE_COLOURS.items():
        counts = [w.roles.get(role, 0) for w in windows]
        if any(counts):
            ax_act.bar(centres, counts, width=width_days * 0.8, bottom=bottom, color=colour,
                       label=f"{role} messages")
            bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
    ax_act.plot(centres, [w.tool_calls for w in windows], "D", color="#334155", ms=5,
                label="tool calls")
    errors = [(c, w.tool_errors) for c, w in zip(centres, windows, strict=True) if w.tool_errors]
    if errors:
        ax_act.scatter([c for c, _ in errors], [e for _, e in errors], marker="x", s=60,
                       color=FORGOT_COLOUR, zorder=5, label="tool errors")
    ax_act.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax_act.set_ylim(0, max(max(bottom), max(w.tool_calls for w in windows), 1) * HEADROOM)
    ax_act.set_ylabel(f"per {analysis.bucket}")
    ax_act.legend(**LEGEND)
    ax_act.set_title("What happened", loc="left", fontsize=11)

    # Memory: live count after each bucket, stored (+) and forgotten (-) in it.
    ax_mem.bar(centres, [w.memories_added for w in windows], width=width_days * 0.8,
               color=ADDED_COLOUR, alpha=0.8, label="stored")
    ax_mem.bar(centres, [-w.memories_forgotten for w in windows], width=width_days * 0.8,
               color=FORGOT_COLOUR, alpha=0.8, label="forgotten")
    ax_mem.axhline(0, color="#64748b", lw=0.6)
    live = [w.live_memories for w in windows]
    ax_mem.step(edges, live + live[-1:], where="post", color=MEMORY_COLOUR, lw=2.2,
                label="live memories")
    ax_mem.yaxis.set_major_locator(MaxNLocator(integer=True))
    top = max(max(w.live_memories for w in windows), max(w.memories_added for w in windows), 1)
    low = max(w.memories_forgotten for w in windows)
    ax_mem.set_ylim(-low * 1.15 - (0.5 if low else 0), top * HEADROOM + 0.5)
    ax_mem.set_ylabel("memories")
    ax_mem.legend(**LEGEND)
    ax_mem.set_title("What it remembered", loc="left", fontsize=11)

    # Checkpoints and restores, across the time panels.
    for w, centre in zip(windows, centres, strict=True):
        for count, colour, name in ((w.checkpoints, "#7c3aed", "checkpoint"),
                                    (w.restores, "#ea580c", "restore")):
            if count:
                for ax in (ax_size, ax_act, ax_mem):
                    ax.axvline(centre, color=colour, lw=1, ls=":", alpha=0.9)
                ax_size.annotate(f"{name}{'s' if count > 1 else ''} ×{count}" if count > 1
                                 else name, (centre, 1), xycoords=("data", "axes fraction"),
                                 rotation=90, va="top", ha="right", fontsize=8, color=colour)

    locator = mdates.AutoDateLocator(minticks=3, maxticks=9)
    ax_mem.xaxis.set_major_locator(locator)
    ax_mem.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax_mem.set_xlim(mdates.date2num(starts[0]), ends[-1])
    for ax in (ax_size, ax_act):
        ax.tick_params(labelbottom=False)
    for ax in (ax_size, ax_act, ax_mem):
        ax.grid(axis="y", alpha=0.25)
        ax.spines[["top"]].set_visible(False)

    _tool_panel(ax_tools, analysis)
    _summary_panel(ax_text, analysis)
    period = f"{_fmt(starts[0])} – {_fmt(from_us(windows[-1].start_us + BUCKETS[analysis.bucket]))}"
    fig.suptitle(f"{title or 'Context evolution of ' + analysis.agent_id}\n"
                 f"{period} UTC, {analysis.bucket} buckets", fontsize=13, x=0.01, ha="left",
                 linespacing=1.5)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def _fmt(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M")


def _tool_panel(ax: Axes, analysis: EvolutionAnalysis) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.set_title("Tool mix", loc="left", fontsize=11)
    items = list(analysis.tool_mix.items())[:12]
    if not items:
        ax.text(0.5, 0.5, "no tool calls", ha="center", va="center", color="#64748b")
        ax.set_axis_off()
        return
    names = [n if len(n) <= 22 else n[:21] + "…" for n, _ in items][::-1]
    calls = [c for _, c in items][::-1]
    bars = ax.barh(names, calls, color="#334155", alpha=0.85, height=0.6)
    pad = (max(len(names), 8) - len(names)) / 2 + 0.6
    ax.set_ylim(-pad, len(names) - 1 + pad)
    ax.bar_label(bars, padding=3, fontsize=8)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.tick_params(axis="y", labelsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_xlabel("calls")


def _summary_panel(ax: Axes, analysis: EvolutionAnalysis) -> None:
    ax.set_axis_off()
    last = analysis.windows[-1]
    ratio = (last.context_stored_bytes / last.context_raw_bytes  # compressed ÷ original
             if last.context_raw_bytes else None)
    size, comp = analysis.size_trend, analysis.compression_trend
    lines = [
        ("version", f"{last.version:,}"),
        ("events", f"{sum(w.events for w in analysis.windows):,}"),
        ("messages", f"{sum(w.messages for w in analysis.windows):,}"),
        ("tokens (≈)", f"{sum(w.tokens for w in analysis.windows):,}"),
        ("stored size", f"{_bytes(last.context_stored_bytes)} ({size.direction})"),
        ("compression", f"{ratio:.2f} of raw ({comp.direction})" if ratio else "–"),
        ("memories", f"+{analysis.memories_added} / −{analysis.memories_forgotten}"
                     f" → {last.live_memories} live"),
        ("checkpoints", f"{sum(w.checkpoints for w in analysis.windows)}"),
        ("restores", f"{sum(w.restores for w in analysis.windows)}"),
    ]
    ax.set_title("Summary", loc="left", fontsize=11)
    for i, (label, value) in enumerate(lines):
        y = 0.95 - i * 0.105
        ax.text(0.0, y, label, fontsize=9, color="#475569", va="top", transform=ax.transAxes)
        ax.text(1.0, y, value, fontsize=9, ha="right", va="top", fontweight="bold",
                transform=ax.transAxes)
