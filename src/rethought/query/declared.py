"""What the query builders install at import time, declared for type checkers.

``methods.install`` and ``namespace`` put the ReQL methods on the query classes with
``setattr`` (one table of term classes drives the whole API), which a type checker cannot
follow. These bases declare the same names, so ``mypy --strict`` accepts
``r.table("t").insert(doc).run(conn)`` and catches a misspelt method. The declarations are
annotations only (no attribute at runtime); ``tests/test_typing.py`` checks that they match the
installed names exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .. import errors
    from .ast import RqlQuery


class QueryMethods:
    """Methods of every query (``methods.QUERY_METHODS``)."""

    __slots__ = ()

    add: Callable[..., RqlQuery]
    and_: Callable[..., RqlQuery]
    append: Callable[..., RqlQuery]
    avg: Callable[..., RqlQuery]
    between: Callable[..., RqlQuery]
    bit_and: Callable[..., RqlQuery]
    bit_not: Callable[..., RqlQuery]
    bit_or: Callable[..., RqlQuery]
    bit_sal: Callable[..., RqlQuery]
    bit_sar: Callable[..., RqlQuery]
    bit_xor: Callable[..., RqlQuery]
    branch: Callable[..., RqlQuery]
    ceil: Callable[..., RqlQuery]
    change_at: Callable[..., RqlQuery]
    changes: Callable[..., RqlQuery]
    coerce_to: Callable[..., RqlQuery]
    concat_map: Callable[..., RqlQuery]
    contains: Callable[..., RqlQuery]
    count: Callable[..., RqlQuery]
    date: Callable[..., RqlQuery]
    day: Callable[..., RqlQuery]
    day_of_week: Callable[..., RqlQuery]
    day_of_year: Callable[..., RqlQuery]
    default: Callable[..., RqlQuery]
    delete: Callable[..., RqlQuery]
    delete_at: Callable[..., RqlQuery]
    difference: Callable[..., RqlQuery]
    distance: Callable[..., RqlQuery]
    distinct: Callable[..., RqlQuery]
    div: Callable[..., RqlQuery]
    do: Callable[..., RqlQuery]
    downcase: Callable[..., RqlQuery]
    during: Callable[..., RqlQuery]
    eq: Callable[..., RqlQuery]
    eq_join: Callable[..., RqlQuery]
    fill: Callable[..., RqlQuery]
    filter: Callable[..., RqlQuery]
    floor: Callable[..., RqlQuery]
    fold: Callable[..., RqlQuery]
    for_each: Callable[..., RqlQuery]
    ge: Callable[..., RqlQuery]
    get_field: Callable[..., RqlQuery]
    group: Callable[..., RqlQuery]
    gt: Callable[..., RqlQuery]
    has_fields: Callable[..., RqlQuery]
    hours: Callable[..., RqlQuery]
    in_timezone: Callable[..., RqlQuery]
    includes: Callable[..., RqlQuery]
    info: Callable[..., RqlQuery]
    inner_join: Callable[..., RqlQuery]
    insert_at: Callable[..., RqlQuery]
    intersects: Callable[..., RqlQuery]
    is_empty: Callable[..., RqlQuery]
    keys: Callable[..., RqlQuery]
    le: Callable[..., RqlQuery]
    limit: Callable[..., RqlQuery]
    lt: Callable[..., RqlQuery]
    map: Callable[..., RqlQuery]
    match: Callable[..., RqlQuery]
    max: Callable[..., RqlQuery]
    merge: Callable[..., RqlQuery]
    min: Callable[..., RqlQuery]
    minutes: Callable[..., RqlQuery]
    mod: Callable[..., RqlQuery]
    month: Callable[..., RqlQuery]
    mul: Callable[..., RqlQuery]
    ne: Callable[..., RqlQuery]
    not_: Callable[..., RqlQuery]
    nth: Callable[..., RqlQuery]
    offsets_of: Callable[..., RqlQuery]
    or_: Callable[..., RqlQuery]
    order_by: Callable[..., RqlQuery]
    outer_join: Callable[..., RqlQuery]
    pluck: Callable[..., RqlQuery]
    polygon_sub: Callable[..., RqlQuery]
    prepend: Callable[..., RqlQuery]
    reduce: Callable[..., RqlQuery]
    replace: Callable[..., RqlQuery]
    round: Callable[..., RqlQuery]
    sample: Callable[..., RqlQuery]
    seconds: Callable[..., RqlQuery]
    set_difference: Callable[..., RqlQuery]
    set_insert: Callable[..., RqlQuery]
    set_intersection: Callable[..., RqlQuery]
    set_union: Callable[..., RqlQuery]
    skip: Callable[..., RqlQuery]
    slice: Callable[..., RqlQuery]
    splice_at: Callable[..., RqlQuery]
    split: Callable[..., RqlQuery]
    sub: Callable[..., RqlQuery]
    sum: Callable[..., RqlQuery]
    time_of_day: Callable[..., RqlQuery]
    timezone: Callable[..., RqlQuery]
    to_epoch_time: Callable[..., RqlQuery]
    to_geojson: Callable[..., RqlQuery]
    to_iso8601: Callable[..., RqlQuery]
    to_json: Callable[..., RqlQuery]
    to_json_string: Callable[..., RqlQuery]
    type_of: Callable[..., RqlQuery]
    ungroup: Callable[..., RqlQuery]
    union: Callable[..., RqlQuery]
    upcase: Callable[..., RqlQuery]
    update: Callable[..., RqlQuery]
    values: Callable[..., RqlQuery]
    with_fields: Callable[..., RqlQuery]
    without: Callable[..., RqlQuery]
    year: Callable[..., RqlQuery]
    zip: Callable[..., RqlQuery]


class TableMethods:
    """Methods of ``r.table(...)`` (``methods.TABLE_METHODS``)."""

    __slots__ = ()

    config: Callable[..., RqlQuery]
    get: Callable[..., RqlQuery]
    get_all: Callable[..., RqlQuery]
    get_intersecting: Callable[..., RqlQuery]
    get_nearest: Callable[..., RqlQuery]
    get_write_hook: Callable[..., RqlQuery]
    grant: Callable[..., RqlQuery]
    index_create: Callable[..., RqlQuery]
    index_drop: Callable[..., RqlQuery]
    index_list: Callable[..., RqlQuery]
    index_rename: Callable[..., RqlQuery]
    index_status: Callable[..., RqlQuery]
    index_wait: Callable[..., RqlQuery]
    insert: Callable[..., RqlQuery]
    rebalance: Callable[..., RqlQuery]
    reconfigure: Callable[..., RqlQuery]
    set_write_hook: Callable[..., RqlQuery]
    status: Callable[..., RqlQuery]
    sync: Callable[..., RqlQuery]
    uuid: Callable[..., RqlQuery]
    wait: Callable[..., RqlQuery]


class DbMethods:
    """Methods of ``r.db(...)`` (``methods.DB_METHODS``)."""

    __slots__ = ()

    config: Callable[..., RqlQuery]
    grant: Callable[..., RqlQuery]
    rebalance: Callable[..., RqlQuery]
    reconfigure: Callable[..., RqlQuery]
    table: Callable[..., TableQuery]
    table_create: Callable[..., RqlQuery]
    table_drop: Callable[..., RqlQuery]
    table_list: Callable[..., RqlQuery]
    wait: Callable[..., RqlQuery]


class NamespaceFunctions:
    """The constructors and constants of ``r`` (``namespace._FUNCTIONS``, ``_CONSTANTS``)."""

    __slots__ = ()

    add: Callable[..., RqlQuery]
    and_: Callable[..., RqlQuery]
    args: Callable[..., RqlQuery]
    asc: Callable[..., RqlQuery]
    avg: Callable[..., RqlQuery]
    bit_and: Callable[..., RqlQuery]
    bit_not: Callable[..., RqlQuery]
    bit_or: Callable[..., RqlQuery]
    bit_sal: Callable[..., RqlQuery]
    bit_sar: Callable[..., RqlQuery]
    bit_xor: Callable[..., RqlQuery]
    branch: Callable[..., RqlQuery]
    ceil: Callable[..., RqlQuery]
    circle: Callable[..., RqlQuery]
    contains: Callable[..., RqlQuery]
    count: Callable[..., RqlQuery]
    db: Callable[..., DbQuery]
    db_create: Callable[..., RqlQuery]
    db_drop: Callable[..., RqlQuery]
    db_list: Callable[..., RqlQuery]
    desc: Callable[..., RqlQuery]
    distance: Callable[..., RqlQuery]
    distinct: Callable[..., RqlQuery]
    div: Callable[..., RqlQuery]
    do: Callable[..., RqlQuery]
    epoch_time: Callable[..., RqlQuery]
    eq: Callable[..., RqlQuery]
    error: Callable[..., RqlQuery]
    floor: Callable[..., RqlQuery]
    ge: Callable[..., RqlQuery]
    geojson: Callable[..., RqlQuery]
    grant: Callable[..., RqlQuery]
    group: Callable[..., RqlQuery]
    gt: Callable[..., RqlQuery]
    info: Callable[..., RqlQuery]
    intersects: Callable[..., RqlQuery]
    iso8601: Callable[..., RqlQuery]
    js: Callable[..., RqlQuery]
    json: Callable[..., RqlQuery]
    le: Callable[..., RqlQuery]
    line: Callable[..., RqlQuery]
    literal: Callable[..., RqlQuery]
    lt: Callable[..., RqlQuery]
    map: Callable[..., RqlQuery]
    max: Callable[..., RqlQuery]
    min: Callable[..., RqlQuery]
    mod: Callable[..., RqlQuery]
    mul: Callable[..., RqlQuery]
    ne: Callable[..., RqlQuery]
    not_: Callable[..., RqlQuery]
    now: Callable[..., RqlQuery]
    object: Callable[..., RqlQuery]
    or_: Callable[..., RqlQuery]
    point: Callable[..., RqlQuery]
    polygon: Callable[..., RqlQuery]
    random: Callable[..., RqlQuery]
    range: Callable[..., RqlQuery]
    reduce: Callable[..., RqlQuery]
    round: Callable[..., RqlQuery]
    sub: Callable[..., RqlQuery]
    sum: Callable[..., RqlQuery]
    table: Callable[..., TableQuery]
    table_create: Callable[..., RqlQuery]
    table_drop: Callable[..., RqlQuery]
    table_list: Callable[..., RqlQuery]
    time: Callable[..., RqlQuery]
    type_of: Callable[..., RqlQuery]
    union: Callable[..., RqlQuery]
    uuid: Callable[..., RqlQuery]
    monday: RqlQuery
    tuesday: RqlQuery
    wednesday: RqlQuery
    thursday: RqlQuery
    friday: RqlQuery
    saturday: RqlQuery
    sunday: RqlQuery
    january: RqlQuery
    february: RqlQuery
    march: RqlQuery
    april: RqlQuery
    may: RqlQuery
    june: RqlQuery
    july: RqlQuery
    august: RqlQuery
    september: RqlQuery
    october: RqlQuery
    november: RqlQuery
    december: RqlQuery
    minval: RqlQuery
    maxval: RqlQuery


class ErrorClasses:
    """``r.ReqlError`` and the other names of :mod:`rethought.errors` (and the old
    ``Rql*`` names), which ``RethinkDB.__init__`` sets on ``r`` as the official driver has them."""

    __slots__ = ()

    ReqlError: type[errors.ReqlError]
    ReqlCompileError: type[errors.ReqlCompileError]
    ReqlServerCompileError: type[errors.ReqlServerCompileError]
    ReqlDriverCompileError: type[errors.ReqlDriverCompileError]
    ReqlRuntimeError: type[errors.ReqlRuntimeError]
    ReqlQueryLogicError: type[errors.ReqlQueryLogicError]
    ReqlNonExistenceError: type[errors.ReqlNonExistenceError]
    ReqlResourceLimitError: type[errors.ReqlResourceLimitError]
    ReqlUserError: type[errors.ReqlUserError]
    ReqlInternalError: type[errors.ReqlInternalError]
    ReqlTimeoutError: type[errors.ReqlTimeoutError]
    ReqlAvailabilityError: type[errors.ReqlAvailabilityError]
    ReqlOpFailedError: type[errors.ReqlOpFailedError]
    ReqlOpIndeterminateError: type[errors.ReqlOpIndeterminateError]
    ReqlPermissionError: type[errors.ReqlPermissionError]
    ReqlDriverError: type[errors.ReqlDriverError]
    ReqlAuthError: type[errors.ReqlAuthError]
    ReqlClientError: type[errors.ReqlClientError]
    ReqlCursorEmpty: type[errors.ReqlCursorEmpty]
    error_class_for: Callable[[int, int | None], type[errors.ReqlError]]
    RqlError: type[errors.ReqlError]
    RqlClientError: type[errors.ReqlClientError]
    RqlCompileError: type[errors.ReqlCompileError]
    RqlRuntimeError: type[errors.ReqlRuntimeError]
    RqlDriverError: type[errors.ReqlDriverError]
    RqlTimeoutError: type[errors.ReqlTimeoutError]
    RqlCursorEmpty: type[errors.ReqlCursorEmpty]


if TYPE_CHECKING:
    # What ``r.table(...)`` and ``r.db(...)`` give, as a type checker sees them (at runtime
    # they are ``terms.Table`` and the generated ``terms.DB``, with these methods installed).

    class TableQuery(RqlQuery, TableMethods):
        """``r.table(...)``: a query with the table methods."""

    class DbQuery(RqlQuery, DbMethods):
        """``r.db(...)``: a query with the database methods."""
