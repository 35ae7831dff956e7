"""The Jinja sandbox staff templates run in, with every step held to the limits of `template_limits`.

Jinja's `ImmutableSandboxedEnvironment` keeps a template away from Python's internals and from
mutating what it is given; on top of it, `LimitedSandbox` routes every step a template can take
through a check:

- `for` loops: the compiler wraps each loop's iterable so every turn is counted (recursive loops,
  whose later turns would escape the count, are refused when the template is compiled);
- `~` and comparisons: the compiler measures their parts first (`[a, a]` nested twenty deep
  prints as a million `a`s; comparing two of those takes as long);
- calls (methods, macros, globals), every operator, every filter and test, attribute and item
  look-ups and each piece of output: through the environment's hooks, which count a step, measure
  the inputs, check the steps that could grow (`center(n)`, `"x" * n`, `format`, …) before they
  run, and measure the result;
- `range()` shares a budget of numbers per render; `lipsum()` is gone.

Compile-time constant folding is off, so every step happens at render time, under the budget.
"""
from __future__ import annotations

from collections.abc import Iterator, Sized
from functools import update_wrapper, wraps

from jinja2 import nodes
from jinja2.compiler import CodeGenerator, operators
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedEscapeFormatter, SandboxedFormatter
from jinja2.utils import pass_context
from markupsafe import Markup

from . import template_limits as limits
from .template_limits import (
    TemplateTooCostly,
    check_format_spec,
    check_method,
    check_power,
    check_printf,
    check_product,
    check_sum,
    check_value,
    checked_width,
    counted,
    fits,
    joined_size,
    measure,
    produced,
    replaced_size,
    spend,
)

__all__ = ["LimitedSandbox", "TemplateTooCostly"]


def _fixed_text(body) -> int:
    """Characters of plain text in a loop's body: what one turn outputs besides its expressions."""
    found = [n for child in body for n in (child, *child.find_all(nodes.TemplateData))]
    return sum(len(n.data) for n in found if isinstance(n, nodes.TemplateData))


class _LimitedCodeGenerator(CodeGenerator):
    """Jinja's compiler, with loops counted and the parts of `~` and comparisons measured."""

    def visit_Template(self, node, frame=None):
        self.loop_costs = {}   # id(a loop's iterable node) -> characters of fixed text one turn outputs
        for loop in node.find_all(nodes.For):
            if loop.recursive:
                self.fail("a loop in a message template may not be recursive", loop.lineno)
            self.loop_costs[id(loop.iter)] = _fixed_text(loop.body)
        super().visit_Template(node, frame)

    def visit(self, node, *args, **kwargs):
        cost = self.loop_costs.get(id(node)) if hasattr(self, "loop_costs") else None
        if cost is None:
            return super().visit(node, *args, **kwargs)
        self.write("environment.loop_turns(")   # for x in environment.loop_turns(<iterable>, text):
        super().visit(node, *args, **kwargs)
        self.write(f", {cost:d})")
        return None

    def visit_Concat(self, node, frame):
        # Jinja's own choice of join function, handed to the environment to check the parts first
        if frame.eval_ctx.volatile:
            join = "(markup_join if context.eval_ctx.volatile else str_join)"
        elif frame.eval_ctx.autoescape:
            join = "markup_join"
        else:
            join = "str_join"
        self.write(f"environment.checked_concat({join}, (")
        for part in node.nodes:
            self.visit(part, frame)
            self.write(", ")
        self.write("))")

    def visit_Compare(self, node, frame):
        self.write("(environment.measured(")
        self.visit(node.expr, frame)
        self.write(")")
        for operand in node.ops:
            self.visit(operand, frame)
        self.write(")")

    def visit_Operand(self, node, frame):
        self.write(f" {operators[node.op]} environment.measured(")
        self.visit(node.expr, frame)
        self.write(")")


# Filters: the ones that could grow are checked from their arguments before they run ----------

def _center(value, width=80, *args, **kwargs):
    checked_width(width)


def _indent(s, width=4, *args, **kwargs):
    text = str(s)
    fits(len(text) + (text.count("\n") + 2) * checked_width(width))


def _wordwrap(s, width=79, break_long_words=True, wrapstring=None, *args, **kwargs):
    text = str(s)
    breaks = sum(text.count(c) for c in " \t\n-") + len(text) // max(width if isinstance(width, int) else 1, 1) + 1
    fits(len(text) + breaks * len(str("\n" if wrapstring is None else wrapstring)))


def _replace(s, old, new, count=None, *args, **kwargs):
    fits(replaced_size(s, old, new, -1 if count is None else count))


def _join(value, d="", *args, **kwargs):
    fits(joined_size(value, d))


def _format(value, *args, **kwargs):
    check_printf(value, kwargs or args)


def _batch(value, linecount, *args, **kwargs):
    checked_width(linecount)


def _slice(value, slices, *args, **kwargs):
    checked_width(slices)


def _tojson(value, indent=None, *args, **kwargs):
    size = len(indent) if isinstance(indent, str) else indent if isinstance(indent, int) else 0
    if size > limits.MAX_JSON_INDENT:
        raise TemplateTooCostly(f"tojson's indent may be at most {limits.MAX_JSON_INDENT}")


def _urlize(value, trim_url_limit=None, nofollow=False, target=None, rel=None, *args, **kwargs):
    text = str(value)
    fits(3 * len(text) + len(text.split()) * (64 + len(str(target or "")) + len(str(rel or ""))))


FILTER_CHECKS = {"center": _center, "indent": _indent, "wordwrap": _wordwrap, "replace": _replace, "join": _join,
                 "format": _format, "batch": _batch, "slice": _slice, "tojson": _tojson, "urlize": _urlize}


_PASSED = {"context": lambda context: context, "eval_context": lambda context: context.eval_ctx,
           "environment": lambda context: context.environment}


def _guarded(func, check=None):
    """A filter or test that counts a step, reads a generator as counted items, measures its inputs,
    runs `check` on them, and measures what it returns.

    It always takes the context, so Jinja never runs it while compiling (constant folding would
    run it outside any render's budget); it hands `func` what `func` asked for."""
    wanted = getattr(func, "jinja_pass_arg", None)
    first = _PASSED[wanted.name] if wanted is not None else None

    @pass_context
    @wraps(func)
    def guarded(context, *args, **kwargs):
        spend()
        if args and isinstance(args[0], Iterator) and not isinstance(args[0], Sized):
            args = (list(counted(args[0])), *args[1:])
        for value in (*args, *kwargs.values()):
            check_value(value)
        if check is not None:
            check(*args, **kwargs)
        return produced(func(first(context), *args, **kwargs) if first else func(*args, **kwargs))

    return guarded


# str.format ------------------------------------------------------------------------------------

class _Formatter(SandboxedFormatter):
    """Jinja's sandboxed str.format, with each field's width checked and the text's length kept."""

    def __init__(self, env, **kwargs):
        super().__init__(env, **kwargs)
        self.size = 0

    def convert_field(self, value, conversion):
        fits(measure(value) * (10 if conversion in ("r", "a") else 1))
        return super().convert_field(value, conversion)

    def format_field(self, value, format_spec):
        self.size += check_format_spec(format_spec) + check_value(value)
        fits(self.size)
        return super().format_field(value, format_spec)


class _EscapeFormatter(_Formatter, SandboxedEscapeFormatter):
    pass


class LimitedSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, every step of a render counted, measured and timed (`template_limits`)."""

    code_generator_class = _LimitedCodeGenerator
    intercepted_binops = frozenset({"+", "-", "*", "/", "//", "%", "**"})

    def __init__(self, **kwargs):
        finalize = kwargs.pop("finalize", None)

        def output(value):
            spend(1, check_value(value))
            return value if finalize is None else finalize(value)

        super().__init__(optimized=False, finalize=output, **kwargs)
        self.globals["range"] = limits.budgeted_range
        self.globals.pop("lipsum", None)
        self.filters = {name: _guarded(func, FILTER_CHECKS.get(name)) for name, func in self.filters.items()}
        self.tests = {name: _guarded(func) for name, func in self.tests.items()}

    def add_filters(self, **filters) -> None:
        """Add filters of our own, under the same guard as the built-in ones."""
        self.filters.update({name: _guarded(func, FILTER_CHECKS.get(name)) for name, func in filters.items()})

    # Called from the compiled template (see _LimitedCodeGenerator).
    loop_turns = staticmethod(limits.loop_turns)

    @staticmethod
    def measured(value):
        check_value(value)
        return value

    @staticmethod
    def checked_concat(join, parts):
        spend()
        fits(sum(check_value(part) for part in parts))
        return produced(join(parts))

    # Jinja's sandbox hooks.
    def call_binop(self, context, operator, left, right):
        spend()
        check_value(left)
        check_value(right)
        if operator == "*":
            check_product(left, right)
        elif operator == "**":
            check_power(left, right)
        elif operator == "+":
            check_sum(left, right)
        elif operator == "%" and isinstance(left, str):
            check_printf(left, right)
        return produced(self.binop_table[operator](left, right))

    def call(__self, __context, __obj, *args, **kwargs):  # noqa: B902 (Jinja's own names, kept clear of kwargs)
        spend()
        for value in (*args, *(v for k, v in kwargs.items() if not k.startswith("_"))):   # _loop_vars are Jinja's
            check_value(value)
        args = check_method(__obj, args, kwargs)
        return produced(super().call(__context, __obj, *args, **kwargs))

    def getattr(self, obj, attribute):
        spend()
        return super().getattr(obj, attribute)

    def getitem(self, obj, argument):
        spend()
        return super().getitem(obj, argument)

    def wrap_str_format(self, value):
        if super().wrap_str_format(value) is None:
            return None
        owner, is_map = value.__self__, value.__name__ == "format_map"

        def wrapper(*args, **kwargs):
            if is_map:
                if kwargs or len(args) != 1:
                    raise TypeError("format_map() takes exactly one argument")
                args, kwargs = (), args[0]
            formatter = (_EscapeFormatter(self, escape=owner.escape) if isinstance(owner, Markup)
                         else _Formatter(self))
            return type(owner)(formatter.vformat(owner, args, kwargs))

        return update_wrapper(wrapper, value)
