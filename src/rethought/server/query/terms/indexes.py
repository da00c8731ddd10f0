"""Secondary index terms: INDEX_CREATE, INDEX_DROP, INDEX_LIST, INDEX_RENAME, INDEX_STATUS,
INDEX_WAIT.

An index is stored as the wire JSON of its function (so it survives a restart) plus its
``multi`` / ``geo`` flags. ``index_function(function_json, multi, geo)`` turns that JSON
back into the ``fn(row) -> list of index values`` the storage layer calls on every write;
the storage gets it as its ``index_compiler`` when it reopens indexes.

Indexes are built in the background (``storage.build``): ``index_create`` answers at once,
``index_status`` shows ``ready: false`` and a ``progress`` meanwhile, and ``index_wait``
suspends its query (``suspend.block_on``) until the builds it names are done.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .... import datum
from ....errors import ReqlOpFailedError, ReqlQueryLogicError
from ....proto.ql2 import TermType as T
from ...runtime import rdb_blobs, suspend, values
from ...runtime.js_print import print_js_function
from ...runtime.values import expected_val
from .. import determinism
from ..compile import Datum, Scope, Term, compile_term, term
from ..context import DETACHED, QueryContext, Session
from ..determinism import NO
from .catalog import as_table

IndexFn = Callable[[Any], list]


def to_wire(node: Term) -> Any:
    """The wire JSON of a compiled term (what the client sent, up to literal wrapping)."""
    if isinstance(node, Datum):
        v = node.value
        return [int(T.DATUM), [v]] if type(v) is list or type(v) is dict else v
    if node.tt == T.MAKE_OBJ and not node.args:
        return {k: to_wire(v) for k, v in node.optargs.items()}
    out: list[Any] = [int(node.tt), [to_wire(a) for a in node.args]]
    if node.optargs:
        out.append({k: to_wire(v) for k, v in node.optargs.items()})
    return out


def field_function(field: str) -> list:
    """``lambda row: row[field]`` as wire JSON (``index_create('name')`` indexes a field)."""
    func, arr, get, var = int(T.FUNC), int(T.MAKE_ARRAY), int(T.GET_FIELD), int(T.VAR)
    # RethinkDB's internal variable for this (minidriver's SINDEXCREATE_X), printed `_var19`.
    x = -19
    return [func, [[arr, [x]], [get, [[var, [x]], field]]]]


def index_function(function: Any, multi: bool, geo: bool) -> IndexFn:
    """Compile stored index JSON into ``fn(row) -> [index values]`` (``[]``: row not indexed)."""
    node = compile_term(function)
    ctx = QueryContext(DETACHED, Session(), {}, "test")
    fn = values.as_func(node.run(Scope(ctx)))

    def compute(row: Any) -> list:
        # Storage leaves out a row whose function raises or yields an unindexable value.
        v = values.to_datum(fn(row))
        return v if multi and type(v) is list else [v]

    return compute


def _names(t: Term, scope: Scope, start: int) -> list[str]:
    return [values.as_string(values.to_datum(a.run(scope))) for a in t.args[start:]]


def _not_pk(table: values.TableValue, name: str) -> None:
    if name == table.store.primary_key:
        raise ReqlQueryLogicError(f"Index name conflict: `{name}` is the name of the primary key.")


def _where(table: values.TableValue) -> str:
    return f"{table.db.name}.{table.name}"


def index_status(store: Any, name: str) -> dict:
    """One ``index_status()`` document (``progress`` only while the index is being built)."""
    info = store.index_info(name)
    config = {"function": info.function, "geo": bool(info.geo), "multi": bool(info.multi)}
    query = f"indexCreate('{name}', {print_js_function(info.function)}"
    flags = [f"{k}: true" for k in ("multi", "geo") if config[k]]
    query += (", {" + ", ".join(flags) + "}" if flags else "") + ")"
    ready = bool(getattr(info, "ready", True))
    doc = {
        "function": datum.make_binary(rdb_blobs.encode_index(info.function, info.multi, info.geo)),
        "geo": config["geo"],
        "index": name,
        "multi": config["multi"],
        "outdated": False,
        "query": query,
        "ready": ready,
    }
    if not ready:
        doc["progress"] = datum.num(getattr(info, "progress", None) or 0.0)
    return doc


@term(T.INDEX_CREATE, arity=(2, 3), optargs=("multi", "geo"))
class IndexCreate(Term):
    nondeterminism = NO

    def eval(self, scope: Scope) -> dict:
        table = self.arg(scope, 0, as_table)
        name = self.datum_arg(scope, 1, values.as_string)
        _not_pk(table, name)
        multi = geo = False
        if len(self.args) == 3:
            node = self.args[2]
            v = node.run(scope)
            if datum.pseudo_type(v) == "BINARY":  # the `function` of an index_status()
                function, multi, geo = rdb_blobs.decode_index(datum.binary_bytes(v))
            elif isinstance(v, values.Func):
                if not determinism.stored_ok(node.determinism):
                    raise ReqlQueryLogicError(
                        "Could not prove function deterministic.  "
                        "Index functions must be deterministic."
                    )
                function = to_wire(node)
            else:
                raise expected_val(v, "FUNCTION")
        else:
            function = field_function(name)
        if "multi" in self.optargs:
            multi = self.optarg(scope, "multi", None, values.as_bool)
        if "geo" in self.optargs:
            geo = self.optarg(scope, "geo", None, values.as_bool)
        store = table.store
        if name in store.index_list():
            raise ReqlOpFailedError(f"Index `{name}` already exists on table `{_where(table)}`.")
        store.index_create(name, function, multi, geo, index_function(function, multi, geo))
        return {"created": 1}


@term(T.INDEX_DROP, arity=(2, 2))
class IndexDrop(Term):
    nondeterminism = NO

    def eval(self, scope: Scope) -> dict:
        table = self.arg(scope, 0, as_table)
        name = self.datum_arg(scope, 1, values.as_string)
        _not_pk(table, name)
        if name not in table.store.index_list():
            raise ReqlOpFailedError(f"Index `{name}` does not exist on table `{_where(table)}`.")
        table.store.index_drop(name)
        return {"dropped": 1}


@term(T.INDEX_LIST, arity=(1, 1))
class IndexList(Term):
    nondeterminism = NO

    def eval(self, scope: Scope) -> list:
        return sorted(self.arg(scope, 0, as_table).store.index_list())


@term(T.INDEX_RENAME, arity=(3, 3), optargs=("overwrite",))
class IndexRename(Term):
    nondeterminism = NO

    def eval(self, scope: Scope) -> dict:
        table = self.arg(scope, 0, as_table)
        old, new = _names(self, scope, 1)
        _not_pk(table, old)
        _not_pk(table, new)
        overwrite = self.optarg(scope, "overwrite")
        overwrite = False if overwrite is None else values.as_bool(values.to_datum(overwrite))
        existing = table.store.index_list()
        if old not in existing:
            if overwrite:
                raise ReqlOpFailedError(f"Index `{old}` does not exist on table `{_where(table)}`.")
            raise ReqlOpFailedError(
                f"Index `{old}` does not exist or index `{new}` already exists "
                f"on table `{_where(table)}`."
            )
        if old == new:
            return {"renamed": 0}
        if new in existing and not overwrite:
            raise ReqlOpFailedError(
                f"Index `{old}` does not exist or index `{new}` already exists "
                f"on table `{_where(table)}`."
            )
        table.store.index_rename(old, new, overwrite)
        return {"renamed": 1}


class _IndexStatuses(Term):
    nondeterminism = NO

    def eval(self, scope: Scope) -> list:
        table = self.arg(scope, 0, as_table)
        names = self.selected(table, _names(self, scope, 1))
        return [index_status(table.store, n) for n in names]

    @staticmethod
    def selected(table: values.TableValue, wanted: list[str]) -> list[str]:
        """The indexes named (all of them when none is), each must exist."""
        existing = set(table.store.index_list())
        for name in sorted(set(wanted)):
            if name not in existing:
                raise ReqlOpFailedError(f"Index `{name}` was not found on table `{_where(table)}`.")
        return sorted(existing if not wanted else set(wanted))


@term(T.INDEX_STATUS, arity=(1, None))
class IndexStatus(_IndexStatuses):
    pass


@term(T.INDEX_WAIT, arity=(1, None))
class IndexWait(_IndexStatuses):
    def eval(self, scope: Scope) -> list:
        table = self.arg(scope, 0, as_table)
        names = self.selected(table, _names(self, scope, 1))
        store = table.store
        wait = getattr(store, "index_wait", None)
        if wait is not None:
            for name in names:
                suspend.block_on(lambda name=name: wait(name))
        # An index dropped meanwhile is reported as RethinkDB does when polling finds it gone.
        self.selected(table, names)
        return [index_status(store, n) for n in names]
