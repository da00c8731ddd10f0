"""The driver's query builder: the ``r`` API, the term classes and the error printer.

``ast`` must load before ``data`` and ``terms`` (they subclass its classes); once they exist,
``methods`` attaches the chainable methods, ``operators`` the Python operators, and ``ast``'s
``BUILDERS`` get the classes ``expr`` builds.
"""

from .. import errors
from . import ast, data, methods, operators, terms  # noqa: F401  (import order matters)
from .ast import RqlQuery, expr, func_wrap
from .namespace import ReqlNamespace
from .printer import print_query

ast.BUILDERS.update(plain_literal=data.plain_literal, ISO8601=terms.ISO8601)
operators.install()
errors.PRINT_QUERY.append(print_query)

__all__ = ["RqlQuery", "ReqlNamespace", "expr", "func_wrap", "print_query"]
