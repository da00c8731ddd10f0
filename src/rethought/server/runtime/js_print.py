"""Term trees printed as RethinkDB prints them in JavaScript form.

``index_status()``'s ``query`` (``indexCreate('a', function(var1) { return ...; })``) and the
write hook's ``query`` (``setWriteHook(function(var1, var2, var3) { return var3; })``) show the
stored function this way. It follows RethinkDB's ``js_pretty_printer_t`` (which term chains
into ``a.b(c)`` form, which becomes ``r.b(a, c)``, when a value needs ``r.expr``) and lays the
result out with its 80-column Oppen-style pretty printer (``pprint::pretty_print``), so long
bodies break lines where RethinkDB breaks them.

Input is wire JSON: ``[type, args, optargs]`` terms, ``{...}`` for MAKE_OBJ, other values are
datums (``[1, [value]]`` wraps an array or object datum).
"""

from __future__ import annotations

from typing import Any

from ... import datum
from ...proto.ql2 import TermType as T

WIDTH = 80
MAX_DEPTH = 15  # RethinkDB prints ``...`` below this depth

# -- documents: text, conditional break, hard break, concatenation, nest -----------------------

Doc = tuple


def text(s: str) -> Doc:
    return ("text", s)


def cond(small: str, cont: str, tail: str = "") -> Doc:
    return ("cond", small, cont, tail)


def concat(*docs: Doc) -> Doc:
    return ("concat", docs)


def nest(doc: Doc) -> Doc:
    return ("nest", doc)


def nc(*docs: Doc) -> Doc:
    return nest(concat(*docs))


CR: Doc = ("crlf",)
COND_BREAK = cond(" ", "")
DOT_BREAK = cond(".", ".")
COMMA_BREAK = concat(text(","), cond(" ", "", ""))
LPAREN, RPAREN, LBRACK, RBRACK = text("("), text(")"), text("["), text("]")
LBRACE, RBRACE, DOT = text("{"), text("}"), text(".")


def _width(s: str) -> int:
    return len(s.encode("utf-8", "surrogatepass"))  # RethinkDB counts bytes


def layout(doc: Doc, width: int = WIDTH) -> str:
    """Lay a document out in ``width`` columns (RethinkDB's ``pprint::pretty_print``).

    A nest opens a group; a group fits when its end column is within the current line's right
    edge, and conditional breaks outside every fitting group become line breaks indented to the
    innermost nest's start column.
    """
    stream: list[list] = []

    def gen(d: Doc) -> None:
        kind = d[0]
        if kind == "text" or kind == "cond" or kind == "crlf":
            stream.append([kind, d, 0])
        elif kind == "concat":
            for child in d[1]:
                gen(child)
        else:  # nest: indentation plus a group
            stream.extend((["nbeg", d, 0], ["gbeg", d, 0]))
            gen(d[1])
            stream.extend((["gend", d, 0], ["nend", d, 0]))

    gen(doc)
    # Each element's end column on one infinite line; a group's start learns its end's.
    pos = 0
    opened: list[list] = []
    for el in stream:
        kind, d = el[0], el[1]
        if kind == "text":
            pos += _width(d[1])
        elif kind == "cond":
            pos += _width(d[1])
        elif kind == "gbeg":
            opened.append(el)
        elif kind == "gend":
            opened.pop()[2] = pos
        el[2] = pos if kind != "gbeg" else el[2]
    out: list[str] = []
    fitting, right, hpos = 0, width, 0
    indent: list[int] = []
    for kind, d, at in stream:
        if kind == "text":
            out.append(d[1])
            hpos += _width(d[1])
        elif kind == "crlf" or (kind == "cond" and fitting == 0):
            cur = indent[-1] if indent else 0
            cont = d[2] if kind == "cond" else ""
            out.append((d[3] if kind == "cond" else "") + "\n" + " " * cur + cont)
            fitting = 0
            hpos = cur + _width(cont)
            right = width - hpos + at
        elif kind == "cond":
            out.append(d[1])
            hpos += _width(d[1])
        elif kind == "gbeg":
            fitting = fitting + 1 if fitting != 0 or at <= right else 0
        elif kind == "gend":
            fitting = fitting - 1 if fitting else 0
        elif kind == "nbeg":
            indent.append(hpos)
        else:
            indent.pop()
    return "".join(out)


# -- terms --------------------------------------------------------------------------------------

# Terms printed ``r.name(a, b)`` rather than chained as ``a.name(b)``.
_NOT_CHAINED = frozenset(
    {
        T.ERROR, T.UUID, T.HTTP, T.DB, T.EQ, T.NE, T.LT, T.LE, T.GT, T.GE, T.NOT, T.ADD, T.SUB,
        T.MUL, T.DIV, T.MOD, T.BIT_AND, T.BIT_OR, T.BIT_XOR, T.BIT_NOT, T.BIT_SAL, T.BIT_SAR,
        T.OBJECT, T.RANGE, T.DB_CREATE, T.DB_DROP, T.DB_LIST, T.BRANCH, T.OR, T.AND, T.JSON,
        T.ISO8601, T.EPOCH_TIME, T.NOW, T.TIME, T.LITERAL, T.RANDOM, T.GEOJSON, T.POINT, T.LINE,
        T.POLYGON, T.CIRCLE, T.DATUM, T.VAR, T.MAKE_ARRAY, T.MAKE_OBJ, T.ARGS, T.JAVASCRIPT,
        T.ASC, T.DESC, T.MINVAL, T.MAXVAL,
        T.MONDAY, T.TUESDAY, T.WEDNESDAY, T.THURSDAY, T.FRIDAY, T.SATURDAY, T.SUNDAY,
        T.JANUARY, T.FEBRUARY, T.MARCH, T.APRIL, T.MAY, T.JUNE, T.JULY, T.AUGUST,
        T.SEPTEMBER, T.OCTOBER, T.NOVEMBER, T.DECEMBER,
    }
)  # fmt: skip
# Constants printed without parentheses (``r.minval``, ``r.monday``).
_NO_PARENS = frozenset(
    {
        T.MINVAL, T.MAXVAL, T.IMPLICIT_VAR,
        T.MONDAY, T.TUESDAY, T.WEDNESDAY, T.THURSDAY, T.FRIDAY, T.SATURDAY, T.SUNDAY,
        T.JANUARY, T.FEBRUARY, T.MARCH, T.APRIL, T.MAY, T.JUNE, T.JULY, T.AUGUST,
        T.SEPTEMBER, T.OCTOBER, T.NOVEMBER, T.DECEMBER,
    }
)  # fmt: skip


class _Raw:
    """One wire term, normalised: type, positional args, optargs (datums keep their value)."""

    __slots__ = ("tt", "args", "optargs", "value")

    def __init__(self, raw: Any) -> None:
        self.args: list[Any] = []
        self.optargs: dict[str, Any] = {}
        self.value: Any = None
        if type(raw) is list and raw and type(raw[0]) is int:
            self.tt = raw[0]
            if self.tt == T.DATUM:
                self.value = raw[1][0]
            else:
                self.args = raw[1] if len(raw) > 1 else []
                self.optargs = raw[2] if len(raw) > 2 else {}
        elif type(raw) is dict:
            self.tt, self.optargs = T.MAKE_OBJ, raw
        else:
            self.tt, self.value = T.DATUM, raw


def _js_name(tt: int) -> str:
    if tt == T.JAVASCRIPT:
        return "js"
    return _camel(T(tt).name)


def _camel(s: str) -> str:
    head, *rest = s.lower().split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest) + ("_" if s.endswith("_") else "")


def var_name(n: int) -> str:
    """RethinkDB's name for variable ``n`` (``var1``; internal negative ids ``_var1``)."""
    return f"_var{-n}" if n < 0 else f"var{n}"


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:f}"


class _Printer:
    def __init__(self) -> None:
        self.depth = 0
        self.prepend_ok = True
        self.in_r_expr = False

    # helpers mirroring RethinkDB's document builders
    def r_dot(self, doc: Doc) -> Doc:
        return concat(text("r"), nc(DOT, doc)) if self.prepend_ok else doc

    def parens(self, doc: Doc) -> Doc:
        return concat(LPAREN, nest(doc), RPAREN)

    def r_expr(self, doc: Doc) -> Doc:
        return self.r_dot(concat(text("expr"), self.parens(doc)))

    def visit(self, raw: Any) -> Doc:
        t = _Raw(raw)
        old = self.in_r_expr
        self.depth += 1
        if self.depth > MAX_DEPTH:  # as in RethinkDB, the depth is not restored here
            return text("...")
        tt = t.tt
        if tt == T.DATUM:
            doc = self.datum(t.value)
            if not self.in_r_expr:
                doc = self.r_expr(doc)
        elif tt == T.FUNCALL:
            doc = self.chain(t) if len(t.args) == 2 else self.toplevel_funcall(t)
        elif tt == T.MAKE_ARRAY:
            self.in_r_expr = True
            doc = self.array(t)
            if not old:
                doc = self.r_expr(doc)
        elif tt == T.MAKE_OBJ:
            self.in_r_expr = True
            doc = self.natural_object(t) if old else self.wrapped_object(t)
        elif tt == T.FUNC:
            doc = self.func(t)
        elif tt == T.VAR:
            doc = text(var_name(int(_Raw(t.args[0]).value)))
        elif tt == T.IMPLICIT_VAR:
            doc = self.r_dot(text("row"))
        elif self.chains(t):
            doc = self.chain(t)
        elif t.args or tt not in _NO_PARENS:
            doc = self.funcall(t)
        else:
            doc = self.r_dot(text(_js_name(tt)))
        self.in_r_expr = old
        self.depth -= 1
        return doc

    @staticmethod
    def chains(t: _Raw) -> bool:
        if t.tt in (T.TABLE, T.FUNCALL):
            return len(t.args) == 2
        return t.tt not in _NOT_CHAINED

    def datum(self, v: Any) -> Doc:
        if v is None:
            return text("null")
        if v is True or v is False:
            return text("true" if v else "false")
        if type(v) is int or type(v) is float:
            return text(_num(v))
        if type(v) is str:
            return text(f'"{v}"')
        if type(v) is list:
            return concat(LBRACK, nc(*_joined([self.datum(x) for x in v])), RBRACK)
        if datum.pseudo_type(v) == "BINARY":
            body = nc(text(v["data"]), COMMA_BREAK, text("'base64'"))
            return concat(text("Buffer"), LPAREN, body, RPAREN)
        items = [nc(text(f'"{k}":'), COND_BREAK, self.datum(v[k])) for k in sorted(v)]
        return nest(concat(LBRACE, *_joined(items), RBRACE))

    def array(self, t: _Raw) -> Doc:
        old, self.in_r_expr = self.in_r_expr, True
        items = _joined([self.visit(a) for a in t.args])
        self.in_r_expr = old
        return concat(LBRACK, nest(concat(*items)), RBRACK)

    def natural_object(self, t: _Raw) -> Doc:
        items = [nc(text(f'"{k}":'), COND_BREAK, self.visit(v)) for k, v in t.optargs.items()]
        return concat(LBRACE, nest(concat(*_joined(items))), RBRACE)

    def wrapped_object(self, t: _Raw) -> Doc:
        parts: list[Doc] = []
        for k, v in t.optargs.items():
            if parts:
                parts.append(COMMA_BREAK)
            parts += [text(f'"{k}"'), COMMA_BREAK, self.visit(v)]
        return self.r_dot(concat(text("object"), self.parens(nest(concat(*parts)))))

    def optargs(self, t: _Raw) -> Doc:
        items = [
            nest(concat(text(f'"{_camel(k.upper())}":'), COND_BREAK, self.visit(v)))
            for k, v in t.optargs.items()
        ]
        return concat(LBRACE, nest(concat(*_joined(items))), RBRACE)

    def funcall(self, t: _Raw) -> Doc:
        old, self.in_r_expr = self.in_r_expr, True
        args = [self.visit(a) for a in t.args]
        if t.optargs:
            args.append(self.optargs(t))
        doc = concat(text(_js_name(t.tt)), self.parens(concat(*_joined(args))))
        self.in_r_expr = old
        return self.r_dot(doc) if t.tt not in (T.VAR, T.DATUM) else nest(doc)

    def toplevel_funcall(self, t: _Raw) -> Doc:
        old, self.in_r_expr = self.in_r_expr, True
        args = [self.visit(a) for a in t.args[1:]]
        self.in_r_expr = old
        parts = _joined(args) + ([COMMA_BREAK] if args else [])
        body = self.visit(t.args[0])
        return self.r_dot(concat(text("do"), LPAREN, body, nest(concat(*parts)), RPAREN))

    def chain(self, t: _Raw) -> Doc:
        """``a.b(c).d(e)``: the stack holds the suffixes, last first."""
        stack: list[Doc] = []
        state = {"dot": False, "r_wrap": False}
        cur: _Raw | None = t
        while cur is not None and self.chains(cur):
            nxt = self.link(cur, stack, state)
            cur = _Raw(nxt) if nxt is not None else None
        if cur is None:
            doc = _reversed(stack, False)
            return self.r_dot(doc) if state["r_wrap"] else doc
        if cur.tt not in (T.VAR, T.DATUM):
            old, self.prepend_ok = self.prepend_ok, False
            head = self.visit(_unraw(cur))
            self.prepend_ok = old
            return self.r_dot(concat(head, _reversed(stack, False)))
        return nc(self.visit(_unraw(cur)), _reversed(stack, state["dot"]))

    def link(self, t: _Raw, stack: list[Doc], state: dict) -> Any:
        """Push one chained term's suffix; return the term it is called on, if any."""
        old = self.in_r_expr
        tt = t.tt
        if tt == T.BRACKET:
            stack.append(RPAREN)
            self.in_r_expr = True
            if t.optargs:
                stack += [self.optargs(t), COND_BREAK, text(",")]
            stack.append(self.visit(t.args[1]))
            self.in_r_expr = old
            stack.append(LPAREN)
            state.update(dot=False, r_wrap=False)
            return t.args[0]
        if tt == T.FUNCALL:
            stack.append(RPAREN)
            self.in_r_expr = True
            stack.append(nest(self.visit(t.args[0])))
            self.in_r_expr = old
            stack += [LPAREN, text("do"), DOT_BREAK]
            state.update(dot=True, r_wrap=True)
            return t.args[1]
        if tt == T.DATUM:
            self.in_r_expr = True
            stack.append(self.r_expr(self.datum(t.value)))
            self.in_r_expr = old
            state.update(dot=False, r_wrap=False)
            return None
        if tt == T.MAKE_OBJ:
            self.in_r_expr = True
            stack.append(self.wrapped_object(t))
            self.in_r_expr = old
            state.update(dot=False, r_wrap=False)
            return None
        if tt == T.VAR:
            stack.append(text(var_name(int(_Raw(t.args[0]).value))))
            state.update(dot=False, r_wrap=False)
            return None
        if tt == T.IMPLICIT_VAR:
            stack.append(text("row"))
            state.update(dot=False, r_wrap=True)
            return None
        stack.append(RPAREN)
        self.in_r_expr = True
        if t.optargs:
            stack.append(self.optargs(t))
        n = len(t.args)
        if n >= 2:
            args = _joined([self.visit(a) for a in reversed(t.args[1:])])
            if t.optargs:
                stack.append(COMMA_BREAK)
            stack.append(nest(_reversed(args, False)))
        self.in_r_expr = old
        stack += [LPAREN, text(_js_name(tt))]
        r_wrap = tt not in (T.VAR, T.DATUM)
        if n == 0:
            state.update(dot=False, r_wrap=r_wrap)
            return None
        stack.append(DOT_BREAK)
        state.update(dot=True, r_wrap=r_wrap)
        return t.args[0]

    def func(self, t: _Raw) -> Doc:
        params = _Raw(t.args[0])
        if params.tt == T.MAKE_ARRAY:
            ids = [_Raw(a).value for a in params.args]
            arglist = concat(
                LPAREN, nest(concat(*_joined([text(var_name(int(i))) for i in ids]))), RPAREN
            )
        elif params.tt == T.DATUM and type(params.value) is list:
            names = [text(var_name(int(i))) for i in params.value]
            arglist = concat(LPAREN, nest(concat(*_joined(names))), RPAREN)
        else:
            arglist = self.visit(t.args[0])
        old, self.in_r_expr = self.in_r_expr, False
        body = concat(text("return"), text(" "), nest(self.visit(t.args[1])), text(";"))
        self.in_r_expr = old
        head = nc(text("tion"), text(" "), arglist, text(" "), LBRACE, CR, body)
        return nc(text("func"), head, CR, RBRACE)


def _unraw(t: _Raw) -> Any:
    if t.tt == T.DATUM:
        return [int(T.DATUM), [t.value]]
    # int(): an object literal's tt is T.MAKE_OBJ, and _Raw reads only a plain int as a type.
    return [int(t.tt), t.args, t.optargs]


def _joined(docs: list[Doc]) -> list[Doc]:
    out: list[Doc] = []
    for d in docs:
        if out:
            out.append(COMMA_BREAK)
        out.append(d)
    return out


def _reversed(stack: list[Doc], last_is_dot: bool) -> Doc:
    # The nest starts after the punctuation: a leading conditional dot becomes a plain one.
    items = list(stack)
    if last_is_dot:
        items[-1] = DOT
    return concat(*reversed(items))


def print_js_function(function: Any) -> str:
    """A stored FUNC (wire JSON) as RethinkDB's ``print_js_function`` prints it:
    ``function(var1) { return var1("x"); }`` (the body laid out in 80 columns)."""
    raw = _Raw(function)
    if raw.tt == T.JAVASCRIPT:
        return f"r.js({_Raw(raw.args[0]).value})"
    params = _Raw(raw.args[0])
    ids = [_Raw(a).value for a in params.args] if params.tt == T.MAKE_ARRAY else params.value
    names = ", ".join(var_name(int(i)) for i in ids or [])
    body = layout(_Printer().visit(raw.args[1]))
    return f"function({names}) {{ return {body}; }}"
