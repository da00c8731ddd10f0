"""The driver's query builder: the ``r`` API, the term classes and the error printer.

``ast`` must load before ``terms`` (terms subclass its printing styles), and ``methods``
attaches the chainable methods to the classes once both exist.
"""

from . import ast, methods, terms  # noqa: F401  (import order matters, see above)
from .ast import RqlQuery, expr, func_wrap
from .namespace import ReqlNamespace
from .printer import print_query

__all__ = ["RqlQuery", "ReqlNamespace", "expr", "func_wrap", "print_query"]
