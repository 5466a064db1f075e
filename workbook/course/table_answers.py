"""A Table API answer as data, for grading: recorded in the answer's limited process without a JVM, rebuilt on a
real Table in the grader's process through an allow-list.

A PyFlink Table reaches the whole JVM behind it (Py4J: any Java class, any program), which the audit hook of
sandbox.py cannot see. So in grading the answer's function never gets a real Table: `record(code)` runs it on
stand-ins (`Recorded`) for the Table and for PyFlink's expression modules, which only write down what was asked
(an attribute, a call, an operator) as a JSON tree; `rebuild(tree, table)` replays that tree on the real Table,
step by step, allowing only the Table API's transformations (select, group_by, window, ...), the expressions
and windows, and data types: nothing that runs, writes, reads the environment or reaches Py4J.
"""

from __future__ import annotations

import operator
import sys
import types

ANSWER = "trades"  # the root of a tree: the Table the function is given
MAX_DEPTH = 200  # a tree deeper than this is refused (a runaway loop of expressions)
MAX_NODES = 20_000
# the modules an answer may import, and what it may take from each (the expressions module: its __all__)
MODULES = {
    "pyflink": {"table"},
    "pyflink.table": {"DataTypes", "expressions", "window", "expression", "types"},
    "pyflink.table.expressions": None,
    "pyflink.table.window": {"Tumble", "Slide", "Session", "Over"},
    "pyflink.table.types": {"DataTypes"},
    "pyflink.table.expression": {"TimeIntervalUnit", "TimePointUnit"},
}
# a Table's (and a grouped or windowed table's) methods an answer may call: transformations only
TABLE_METHODS = {
    "select",
    "group_by",
    "window",
    "filter",
    "where",
    "alias",
    "add_columns",
    "add_or_replace_columns",
    "rename_columns",
    "drop_columns",
    "distinct",
    "union_all",
    "union",
    "join",
    "left_outer_join",
    "right_outer_join",
    "full_outer_join",
    "order_by",
    "offset",
    "fetch",
    "limit",
}
OPERATORS = {
    "add",
    "sub",
    "mul",
    "truediv",
    "mod",
    "pow",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "and_",
    "or_",
    "neg",
    "invert",
}


class Refused(Exception):
    """What an answer asked for that grading does not rebuild."""


# --- recording, in the answer's process (no PyFlink, no JVM) ----------------------------------------------------


class Recorded:
    """A stand-in that writes down what is asked of it: `tree` is the JSON of how it was made."""

    __slots__ = ("tree",)

    def __init__(self, tree):
        object.__setattr__(self, "tree", tree)

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        return Recorded(["get", self.tree, name])

    def __call__(self, *args, **kwargs):
        return Recorded(["call", self.tree, [encode(a) for a in args], {k: encode(v) for k, v in kwargs.items()}])

    def __bool__(self):
        raise TypeError("an expression has no truth value in Python: combine conditions with & and |, not and/or")

    def __iter__(self):
        raise TypeError("an expression or a Table cannot be iterated in Python")

    def __repr__(self) -> str:
        return "<recorded Table API expression>"

    __hash__ = object.__hash__


def _binary(name: str, reflected: bool = False):
    def method(self, other):
        left, right = (encode(other), encode(self)) if reflected else (encode(self), encode(other))
        return Recorded(["op", name, left, right])

    return method


for _name, _dunder in (
    ("add", "add"),
    ("sub", "sub"),
    ("mul", "mul"),
    ("truediv", "truediv"),
    ("mod", "mod"),
    ("pow", "pow"),
    ("and_", "and"),
    ("or_", "or"),
):
    setattr(Recorded, f"__{_dunder}__", _binary(_name))
    setattr(Recorded, f"__r{_dunder}__", _binary(_name, reflected=True))
for _name in ("eq", "ne", "lt", "le", "gt", "ge"):
    setattr(Recorded, f"__{_name}__", _binary(_name))
Recorded.__neg__ = lambda self: Recorded(["op", "neg", encode(self)])
Recorded.__invert__ = lambda self: Recorded(["op", "invert", encode(self)])


def encode(value):
    """An argument as JSON: an expression's tree, a plain value, or a list of them; anything else is refused."""
    if isinstance(value, Recorded):
        return {"node": value.tree}
    if value is None or isinstance(value, (bool, int, float, str)):
        return {"value": value}
    if isinstance(value, (list, tuple)):
        return {"list": [encode(v) for v in value]}
    raise Refused(
        f"a {type(value).__name__} as an argument: a Table API answer passes expressions, names and numbers only"
    )


class _Module(types.ModuleType):
    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return Recorded(["get", ["module", self.__name__], name])


def recording_modules(star: dict) -> dict:
    """Stand-ins for the modules an answer imports; `star`: module -> the names `import *` takes."""
    modules = {}
    for name in MODULES:
        module = _Module(name)
        module.__all__ = list(star.get(name, []))
        module.__path__ = []  # a package: its submodules import
        modules[name] = module
    return modules


def record(function) -> dict:
    """What calling `function` (the answer) on a recorded Table gives: {"table": tree}, or {"returned": repr}."""
    result = function(Recorded(["root", ANSWER]))
    if not isinstance(result, Recorded):  # what it is, as the check names it
        return {"returned": None if result is None else {"repr": f"a {type(result).__name__}"}}
    _check_size(result.tree)
    return {"table": result.tree}


def recorded_names(names: dict) -> dict:
    """Recording stand-ins of `names` (name -> the module it is taken from), as a cell that imported them has."""
    return {name: Recorded(["get", ["module", module], name]) for name, module in names.items()}


def install(star: dict) -> None:
    """Put the recording modules in place of PyFlink's (in the answer's process only)."""
    sys.modules.update(recording_modules(star))


def _check_size(tree) -> None:
    count, stack = 0, [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if depth > MAX_DEPTH or count > MAX_NODES:
            raise Refused(f"an expression nested more than {MAX_DEPTH} deep or with more than {MAX_NODES} parts")
        if isinstance(node, list):
            stack.extend((n, depth + 1) for n in node)
        elif isinstance(node, dict):
            stack.extend((n, depth + 1) for n in node.values())


# --- rebuilding, in the grader's process ----------------------------------------------------------------------


def modules() -> dict:
    """The real modules of MODULES, by name."""
    import pyflink
    import pyflink.table
    import pyflink.table.expression
    import pyflink.table.expressions
    import pyflink.table.types
    import pyflink.table.window

    return {
        "pyflink": pyflink,
        "pyflink.table": pyflink.table,
        "pyflink.table.expressions": pyflink.table.expressions,
        "pyflink.table.window": pyflink.table.window,
        "pyflink.table.types": pyflink.table.types,
        "pyflink.table.expression": pyflink.table.expression,
    }


def _allowed_classes() -> tuple:
    from pyflink.table import table
    from pyflink.table.expression import Expression

    tables = (
        table.Table,
        table.GroupedTable,
        table.GroupWindowedTable,
        table.WindowGroupedTable,
        table.AggregatedTable,
        table.OverWindowedTable,
    )
    return tables, Expression


def _get(obj, name: str):
    if not isinstance(name, str) or name.startswith("_"):
        raise Refused(f"the name {name!r}")
    tables, expression = _allowed_classes()
    if isinstance(obj, types.ModuleType):
        allowed = MODULES.get(obj.__name__, set())
        if allowed is None:
            allowed = set(getattr(obj, "__all__", ()))
        if name not in allowed:
            raise Refused(f"{obj.__name__}.{name}")
        return getattr(obj, name)
    if isinstance(obj, tables):
        if name not in TABLE_METHODS:
            raise Refused(f"Table.{name} (a Table API answer returns its Table: the check runs it)")
        return getattr(obj, name)
    owner = obj if isinstance(obj, type) else type(obj)
    if (
        isinstance(obj, expression)
        or owner.__module__ in ("pyflink.table.window", "pyflink.table.types")
        or (owner.__module__ == "pyflink.table.expression" and owner.__name__ in ("TimeIntervalUnit", "TimePointUnit"))
    ):
        return getattr(obj, name)
    raise Refused(f"{name} of a {owner.__name__}")


def rebuild(tree, table):
    """The Table the recorded `tree` describes, made from the real `table` (Refused: a step not allowed)."""
    _check_size(tree)

    def value(arg):
        if not isinstance(arg, dict) or len(arg) != 1:
            raise Refused("a malformed argument")
        kind, body = next(iter(arg.items()))
        if kind == "value":
            if body is not None and not isinstance(body, (bool, int, float, str)):
                raise Refused("a malformed value")
            return body
        if kind == "list":
            return [value(a) for a in body]
        if kind == "node":
            return node(body)
        raise Refused("a malformed argument")

    def node(n):
        if not isinstance(n, list) or not n:
            raise Refused("a malformed step")
        kind = n[0]
        if kind == "root" and n[1:] == [ANSWER]:
            return table
        if kind == "module" and len(n) == 2 and n[1] in MODULES:
            return modules()[n[1]]
        if kind == "get" and len(n) == 3:
            return _get(node(n[1]), n[2])
        if kind == "call" and len(n) == 4 and isinstance(n[2], list) and isinstance(n[3], dict):
            function = node(n[1])
            if not (isinstance(n[1], list) and n[1][:1] == ["get"]):
                raise Refused("calling something that is not a method or function of the Table API")
            return function(*[value(a) for a in n[2]], **{str(k): value(v) for k, v in n[3].items()})
        if kind == "op" and n[1] in OPERATORS and len(n) in (3, 4):
            return getattr(operator, n[1])(*[value(a) for a in n[2:]])
        raise Refused("a malformed step")

    return node(tree)
