"""The driver's query builder: the ``r`` API, the term classes and the error printer.

``ast`` must load before ``data`` and ``terms`` (they subclass its classes); once they exist,
``methods`` attaches the chainable methods and ``ast`` is given both modules (its operators and
``expr`` build their classes).
"""

from .. import errors
from . import ast, data, methods, terms  # noqa: F401  (import order matters)
from .ast import RqlQuery, expr, func_wrap
from .namespace import ReqlNamespace
from .printer import print_query

ast.terms, ast.data = terms, data
errors.PRINT_QUERY.append(print_query)

__all__ = ["RqlQuery", "ReqlNamespace", "expr", "func_wrap", "print_query"]
