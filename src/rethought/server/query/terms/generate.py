"""Value generators: RANDOM, UUID, RANGE."""

from __future__ import annotations

import itertools
import random
import uuid

from .... import datum
from ....errors import ReqlQueryLogicError
from ....proto.ql2 import TermType as T
from ...runtime import suspend, values
from ..compile import Scope, Term, term
from ..determinism import NO

#: RethinkDB's namespace for name-based (v5) UUIDs: r.uuid("name") is the same everywhere.
UUID_NAMESPACE = uuid.UUID("91461c99-f89d-49d2-af96-d8e2e14e9b58")
_rng = random.SystemRandom()


def _fmt_plain(x: float) -> str:
    """A number as RethinkDB prints it in random's bound messages (``%.20g``)."""
    return f"{x:.20g}"


def _bound(x: int | float, which: str) -> int:
    if type(x) is int:
        return x
    if not x.is_integer() or abs(x) > datum.MAX_EXACT:
        raise ReqlQueryLogicError(
            f"{which} bound ({_fmt_plain(x)}) could not be safely converted to an integer."
        )
    return int(x)


@term(T.RANDOM, arity=(0, 2), optargs=("float",))
class Random(Term):
    """``r.random()`` in [0, 1); ``r.random(n)`` / ``r.random(a, b)`` an integer in [a, b),
    or a float with ``float=True``."""

    nondeterminism = NO

    def eval(self, scope: Scope) -> int | float:
        nums = [self.datum_arg(scope, i, values.as_number) for i in range(len(self.args))]
        use_float = self.optargs.get("float")
        as_float = values.as_bool(values.to_datum(use_float.run(scope))) if use_float else not nums
        if as_float:
            lower, upper = (0.0, 1.0) if not nums else (0.0, nums[0]) if len(nums) == 1 else nums
            result = lower + _rng.random() * (upper - lower)
            if (result >= upper) if upper > lower else (result <= upper):
                result = lower
            return datum.num(float(result))
        if not nums:
            raise ReqlQueryLogicError("Generating a random integer requires one or two bounds.")
        if len(nums) == 1:
            lower, upper = 0, _bound(nums[0], "Upper")
        else:
            lower, upper = _bound(nums[0], "Lower"), _bound(nums[1], "Upper")
        if lower >= upper:
            raise ReqlQueryLogicError(
                f"Lower bound ({lower}) is not less than upper bound ({upper})."
            )
        return datum.num(_rng.randrange(lower, upper))


@term(T.UUID, arity=(0, 1))
class Uuid(Term):
    """A random v4 UUID, or with a string the v5 UUID of that name in RethinkDB's namespace."""

    nondeterminism = NO

    def compiled(self) -> None:
        # With a name the result is a pure function of its argument (r.args counts as
        # non-deterministic: it may expand to no argument; Spliced keeps NO for it).
        if self.args:
            self.determinism = self.args[0].determinism

    def eval(self, scope: Scope) -> str:
        if self.args:
            return str(uuid.uuid5(UUID_NAMESPACE, self.datum_arg(scope, 0, values.as_string)))
        return str(uuid.uuid4())


@term(T.RANGE, arity=(0, 2))
class Range(Term):
    """``r.range()`` (infinite), ``r.range(stop)``, ``r.range(start, stop)``: a lazy stream."""

    def eval(self, scope: Scope) -> values.Stream:
        if not self.args:
            return values.Stream(suspend.ticking(itertools.count()), infinite=True)
        bounds = [self.datum_arg(scope, i, values.as_int) for i in range(len(self.args))]
        start, stop = (0, bounds[0]) if len(bounds) == 1 else bounds
        return values.Stream(suspend.Ticked(range(start, stop)))
