"""Print a query as Python source, with ``^^^^`` under the sub-term an error points to.

The server's backtrace is a list of frames from the root: an int selects a positional
argument, a str an optional argument. Printing renders every term from its children's text
(each term's ``compose``); the sub-term the frames lead to is rendered between two marker
characters, whose positions after rendering give the caret span. ``repr`` escapes control
characters, so the markers cannot occur in the text of any literal.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

_START = "\x00"
_END = "\x01"


def render(term: Any) -> str:
    """The query as the user would write it, e.g. ``r.table('x').get(1)``."""
    return term.compose(
        [render(a) for a in term._args],
        {k: render(v) for k, v in term.optargs.items()},
    )


def _render_marked(term: Any, frames: Sequence[int | str], depth: int) -> str:
    if depth == len(frames):
        return _START + render(term) + _END
    frame = frames[depth]
    args = [
        _render_marked(a, frames, depth + 1) if i == frame else render(a)
        for i, a in enumerate(term._args)
    ]
    optargs = {
        k: _render_marked(v, frames, depth + 1) if k == frame else render(v)
        for k, v in term.optargs.items()
    }
    return term.compose(args, optargs)


def print_query(term: Any, frames: Sequence[int | str]) -> str:
    """The query on one line and, on the next, carets under the part ``frames`` lead to.

    Like the official driver, the caret line is as long as the query (blanks elsewhere),
    and is blank when the frames lead nowhere in the printed text.
    """
    marked = _render_marked(term, frames, 0)
    start = marked.find(_START)
    end = marked.find(_END)
    if start < 0 or end < 0:
        text = marked.replace(_START, "").replace(_END, "")
        return f"{text}\n{' ' * len(text)}"
    text = marked[:start] + marked[start + 1 : end] + marked[end + 1 :]
    width = end - start - 1
    return f"{text}\n{' ' * start}{'^' * width}{' ' * (len(text) - start - width)}"
