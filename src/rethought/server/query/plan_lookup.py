"""Which cached plan answers a START frame's bytes, before anything else is done with them.

Three ways, cheapest first: the payload's exact bytes (``PlanCache.peek``), a byte template
of a one-key shape (shape_bytes.py: no parse at all), or the parse and the shape walk
(shapes.py) of a query differing from a compiled one only in literal keys or documents.
A frame none of them serves is compiled by the session, which reuses the parse made here.
"""

from __future__ import annotations

from typing import Any

import orjson

from ...proto.ql2 import QueryType
from . import json_dups, shape_bytes, shapes
from .plan_cache import MAX_PAYLOAD, Plan, PlanCache

#: ``lookup``'s answer when no plan serves the bytes and they were not parsed.
_NONE: tuple = (None, (), None, None, False)


def lookup(plans: PlanCache, payload: bytes) -> tuple[Plan | None, tuple, Any, Any, bool]:
    """``(plan, params, raw_term, parsed, exact)`` for ``payload`` (see the module doc):
    the plan (None: compile it), the run's params, the query's term (the plan's own when
    matched by bytes: a cached root never reads it), the parsed frame when it was parsed
    (for the session's compile), and whether it matched by its exact bytes (then counted by
    ``PlanCache.hit`` once used)."""
    plan = plans.peek(payload)
    if plan is not None:
        return plan, plan.params, plan.raw_term, None, True
    if len(payload) > MAX_PAYLOAD:
        return _NONE
    if plans.templates and (hit := shape_bytes.match(plans.templates, payload)):
        plan, params = hit
        plans.shape_hits += 1
        raw_term, query = plan.raw_term, None
    else:
        try:
            query = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return _NONE
        if json_dups.may_have_duplicates(payload, query):
            return _NONE
        if type(query) is not list or len(query) < 2 or query[0] != QueryType.START:
            return None, (), None, query, False
        shape = shapes.shape_of(query)
        if shape is None:
            return None, (), None, query, False
        plan = plans.get_shape(shape.key)
        if plan is None:
            return None, (), None, query, False
        if not plan.learned:  # its second query: one-key shapes get a byte template
            plan.learned = True
            if template := shape_bytes.learn(payload, query, shape, plan):
                plans.add_template(template)
        params, raw_term = shape.params, query[1]
    if plan.last == payload:
        # The same bytes twice running (a poll of one row): cached by its bytes too, so its
        # next runs skip the shape. Only then, or varying keys would fill the byte cache
        # with payloads never seen again.
        plans.put(
            payload, Plan(raw_term, plan.optargs, plan.root, plan.noreply, plan.direct, params)
        )
    plan.last = payload
    return plan, params, raw_term, query, False
