"""``for_each``: run a write query per element and merge the write results."""

from __future__ import annotations

from typing import Any

from .... import datum
from ....errors import ReqlError, ReqlQueryLogicError
from ....proto.ql2 import TermType as T
from ...runtime import values
from .. import seq
from ..compile import Scope, Term, term

_FAIL = "FOR_EACH expects one or more basic write queries."


@term(T.FOR_EACH, arity=(2, 2))
class ForEach(Term):
    def eval(self, scope: Scope) -> Any:
        rows = values.iterate(self.args[0].run(scope))
        f = self.arg(scope, 1, values.as_func)
        stats: dict = {}
        for row in rows:
            result = f(row)
            if not seq.is_datum(result):
                raise ReqlQueryLogicError(_FAIL)
            d = values.to_datum(result)
            try:
                if type(d) is dict:
                    stats = merge_stats(stats, d)
                else:
                    for item in values.as_array(d):
                        stats = merge_stats(stats, values.as_object(item))
            except ReqlError as e:
                raise type(e)(f"{_FAIL}  {e.message}") from None
        return stats


def merge_stats(left: dict, right: dict) -> dict:
    """RethinkDB's write-result merge: numbers add, arrays concatenate, strings keep the first."""
    out = dict(left)
    for key, r in right.items():
        if key not in out:
            out[key] = r
            continue
        lv = out[key]
        if type(lv) in (int, float) and type(r) in (int, float):
            out[key] = datum.num(lv + r)
        elif type(lv) is list and type(r) is list:
            out[key] = lv + r
        elif type(lv) is str and type(r) is str:
            pass
        else:
            raise ReqlQueryLogicError(
                f"Cannot merge statistics `{key}` (type {values.type_name(lv)}) and "
                f"`{key}` (type {values.type_name(r)})."
            )
    return out
