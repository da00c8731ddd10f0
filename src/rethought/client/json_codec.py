"""User-supplied JSON encoders and decoders, as the official driver takes them.

``r.connect(..., json_encoder=MyEncoder, json_decoder=MyDecoder)`` (every loop type and
``r.pool``) or ``query.run(conn, json_encoder=..., json_decoder=...)`` for one query. As in
the official driver (net.py), both are *classes*: the connection makes
``json_encoder()`` per query and encodes the whole ``[type, term, optargs]`` message with
its ``encode()``, and ``json_decoder(global_optargs)`` per query and reads every response
with its ``decode()``. User code subclasses :class:`ReQLEncoder` (e.g. a ``default()`` for
``Decimal``) or :class:`ReQLDecoder` (e.g. a ``convert_pseudotype()`` or ``object_hook``
building its own classes); the official driver's ``rethinkdb.ast`` classes work too.

Without either option the connection keeps its orjson fast path (core.py); with one, the
query takes the standard library's speed.
"""

from __future__ import annotations

import json
from typing import Any

from ..errors import ReqlDriverError
from ..query.ast import RqlQuery
from ..query.encode import Opaque
from .convert import binary_value, grouped_pairs, make_hashable, time_value

__all__ = ["ReQLEncoder", "ReQLDecoder", "Codec", "unwrap_opaque"]


class ReQLEncoder(json.JSONEncoder):
    """The default encoder class: the official driver's settings (no ASCII escaping, no
    NaN, compact separators); ``default()`` builds query objects. Subclass and override
    ``default()`` to encode more types (call ``super().default(obj)`` for the rest)."""

    def __init__(self) -> None:
        json.JSONEncoder.__init__(
            self, ensure_ascii=False, allow_nan=False, check_circular=False, separators=(",", ":")
        )

    def default(self, obj: Any) -> Any:
        if isinstance(obj, RqlQuery):
            return obj.build()
        return json.JSONEncoder.default(self, obj)


class ReQLDecoder(json.JSONDecoder):
    """The default decoder class: pseudo-types become Python values (TIME an aware
    ``datetime``, BINARY ``bytes``, GROUPED_DATA a ``dict``) unless the query's
    ``time_format`` / ``binary_format`` / ``group_format`` is ``"raw"``. Subclass and
    override ``convert_pseudotype`` (or a ``convert_*``) to build other values."""

    def __init__(self, reql_format_opts: dict | None = None) -> None:
        json.JSONDecoder.__init__(self, object_hook=self.convert_pseudotype)
        self.reql_format_opts = reql_format_opts or {}

    def convert_time(self, obj: dict) -> Any:
        return time_value(obj)

    @staticmethod
    def convert_grouped_data(obj: dict) -> dict:
        return {make_hashable(k): v for k, v in grouped_pairs(obj)}

    @staticmethod
    def convert_binary(obj: dict) -> bytes:
        return binary_value(obj)

    def _format(self, name: str) -> bool:
        value = self.reql_format_opts.get(name)
        if value is None or value == "native":
            return True
        if value == "raw":
            return False
        raise ReqlDriverError(f'Unknown {name} run option "{value}".')

    def convert_pseudotype(self, obj: dict) -> Any:
        kind = obj.get("$reql_type$")
        if kind == "TIME":
            return self.convert_time(obj) if self._format("time_format") else obj
        if kind == "GROUPED_DATA":
            return self.convert_grouped_data(obj) if self._format("group_format") else obj
        if kind == "BINARY":
            return self.convert_binary(obj) if self._format("binary_format") else obj
        if kind == "GEOMETRY" or kind is None:
            return obj
        raise ReqlDriverError(f'Unknown pseudo-type "{kind}"')


def unwrap_opaque(value: Any) -> Any:
    """``value`` with every :class:`Opaque` (a Decimal, UUID, Enum... that ``r.expr``
    passed through) replaced by what it holds, for a user encoder's ``default()`` to see."""
    t = type(value)
    if t is Opaque:
        return value.value
    if t is list:
        return [unwrap_opaque(x) for x in value]
    if t is dict:
        return {k: unwrap_opaque(x) for k, x in value.items()}
    return value


class Codec:
    """A connection's (or a query's) encoder and decoder classes; None: the fast path."""

    __slots__ = ("encoder", "decoder")

    def __init__(self, encoder: type | None = None, decoder: type | None = None) -> None:
        self.encoder = encoder
        self.decoder = decoder

    def __bool__(self) -> bool:
        return self.encoder is not None or self.decoder is not None

    def override(self, encoder: type | None, decoder: type | None) -> Codec:
        """This codec with a query's own classes in front."""
        if encoder is None and decoder is None:
            return self
        return Codec(encoder or self.encoder, decoder or self.decoder)

    def encode(self, message: list) -> bytes:
        """The frame body of ``message`` by the encoder class (ReQLEncoder by default)."""
        encoder = (self.encoder or ReQLEncoder)()
        text = encoder.encode(unwrap_opaque(message))
        return text.encode("utf-8") if isinstance(text, str) else bytes(text)

    def new_decoder(self, global_optargs: dict | None) -> Any:
        """A decoder instance for one query, or None (the core's own parse)."""
        if self.decoder is None:
            return None
        return self.decoder(global_optargs or {})


NO_CODEC = Codec()
