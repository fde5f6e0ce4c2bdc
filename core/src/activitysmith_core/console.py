"""Render Live Activity states and pushes in a terminal with rich (extra ``sandbox``).

Used by ``make demo`` and the sandbox command to show what a phone would show.
"""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.panel import Panel
from rich.text import Text

__all__ = ["RICH_COLORS", "render_activity", "render_push", "segment_bar"]

RICH_COLORS = {
    "lime": "bright_green",
    "green": "green3",
    "cyan": "cyan",
    "blue": "dodger_blue1",
    "purple": "medium_purple",
    "magenta": "magenta",
    "red": "red1",
    "orange": "dark_orange",
    "yellow": "yellow1",
    "gray": "grey50",
}


def _c(name: Any, default: str = "white") -> str:
    return RICH_COLORS.get(str(name), default)


def segment_bar(state: dict[str, Any], *, width: int = 3, ended: bool = False) -> Text:
    """The segmented bar: finished segments in their colours, the current one, then pending."""
    total = int(state.get("number_of_steps") or 1)
    done = min(int(state.get("current_step") or 0), total)
    colors = list(state.get("step_colors") or [])
    accent = state.get("color", "blue")
    bar = Text()
    for i in range(total):
        if i < done:
            bar.append("█" * width, style=_c(colors[i] if i < len(colors) else accent))
        elif i == done and not ended:
            bar.append("▒" * width, style=_c(state.get("step_color") or accent))
        else:
            bar.append("░" * width, style="grey30")
        bar.append(" " if i < total - 1 else "")
    return bar


def _body(state: dict[str, Any], ended: bool) -> Text:
    kind = state.get("type")
    if kind == "segmented_progress":
        line = segment_bar(state, ended=ended)
        line.append(f"  {state.get('current_step', 0)}/{state.get('number_of_steps', '?')}")
        return line
    if kind == "progress":
        pct = state.get("percentage")
        if pct is None and state.get("upper_limit"):
            pct = 100 * float(state.get("value") or 0) / float(state["upper_limit"])
        filled = round((pct or 0) / 5)
        line = Text("█" * filled, style=_c(state.get("color", "blue")))
        line.append("░" * (20 - filled), style="grey30")
        line.append(f"  {pct or 0:.0f}%")
        return line
    if kind in ("metrics", "stats"):
        line = Text()
        for metric in state.get("metrics") or []:
            line.append(f"{metric.get('label')} ", style="bold")
            line.append(
                f"{metric.get('value')}{metric.get('unit') or ''}   ",
                style=_c(metric.get("color"), "white"),
            )
        return line
    if kind == "value":
        return Text(str(state.get("value")), style=f"bold {_c(state.get('color'))}")
    if kind == "alert":
        return Text(str(state.get("message", "")))
    if kind == "timer":
        return Text(
            f"⏱ {state.get('duration_seconds', '')} s"
            f"{' (paused)' if state.get('is_running') is False else ''}"
        )
    return Text("")


def render_activity(
    state: dict[str, Any], *, operation: str = "", key: str = "", ended: bool = False
) -> Panel:
    """A Live Activity as a Lock Screen-like panel."""
    head = Text(str(state.get("title", "")), style="bold")
    if badge := state.get("badge"):
        head.append(f"  [{badge.get('title')}]", style=f"bold {_c(badge.get('color'))}")
    parts: list[Any] = [head]
    if state.get("subtitle"):
        parts.append(Text(str(state["subtitle"]), style="grey70"))
    parts.append(_body(state, ended))
    title = " · ".join(p for p in (operation, key) if p)
    return Panel(
        Group(*parts),
        title=title or None,
        title_align="left",
        border_style="grey50" if ended else _c(state.get("color", "blue")),
        width=78,
    )


def render_push(body: dict[str, Any]) -> Panel:
    """A push notification as a banner."""
    parts: list[Any] = [Text(str(body.get("title", "")), style="bold")]
    if body.get("subtitle"):
        parts.append(Text(str(body["subtitle"]), style="grey70"))
    if body.get("message"):
        parts.append(Text(str(body["message"])))
    if body.get("redirection"):
        parts.append(Text(f"→ {body['redirection']}", style="underline grey62"))
    return Panel(Group(*parts), title="push", title_align="left", border_style="yellow1", width=78)
