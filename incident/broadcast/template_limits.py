"""What one render of a staff-written template may cost, and the checks that keep it to that. Pure.

A template is code that a lead saves and the worker runs for every broadcast, so no template
may stall it. Three budgets per render (see `start_budget`):

- loop turns: every turn of every `for` loop, over anything, nested or not, counts;
- work: every call, filter, test, operation, loop turn and piece of output counts as a step, and
  every character it builds as a unit (a step costs STEP_COST units); measuring a list costs a
  step per item;
- time: the deadline is checked at every step, so a render that outputs nothing is stopped too.

And one limit per value: no single step may build a text or list of more than MAX_VALUE
characters (as it would print), or a number of more than MAX_INT_BITS bits. The steps that could
build something enormous from small inputs (`center(n)`, `indent(n)`, `"x" * n`, `%` and
`format` widths, `replace`, `join`, `wordwrap`, …) are checked *before* they run, from their
inputs; everything else is measured after. Values are measured as they would print, a list by
its items, counted only up to the limit: a list holding itself a million times over costs no
more to measure than a short one.
"""
from __future__ import annotations

import re
import time
from collections.abc import ItemsView, Iterator, KeysView, Sized, ValuesView
from contextvars import ContextVar

from jinja2.utils import Namespace

MAX_VALUE = 200_000          # characters one step may build (as the value would print)
MAX_INT_BITS = 10_000        # about 3,000 digits
MAX_EXPONENT = 64
MAX_LOOPS = 10_000           # loop turns in one render, all loops together
MAX_RANGE_ITEMS = 10_000     # numbers all of one render's range() calls may hand out together
MAX_WORK = 2_000_000         # units of work in one render: STEP_COST a step, 1 a character built
STEP_COST = 20               # a step (call, filter, operation, loop turn, item measured) is slow next to a character
MAX_JSON_INDENT = 8


class TemplateTooCostly(Exception):
    """A render would go past one of its limits; the message says which, for the staff member."""


class _Budget:
    __slots__ = ("deadline", "seconds", "work", "loops", "numbers")

    def __init__(self, seconds: float):
        self.seconds, self.deadline = seconds, time.monotonic() + seconds
        self.work, self.loops, self.numbers = MAX_WORK, MAX_LOOPS, MAX_RANGE_ITEMS

    def spend(self, units: int) -> None:
        self.work -= units
        if self.work < 0:
            raise TemplateTooCostly(f"it does more work than one render may ({MAX_WORK:,} units)")
        if time.monotonic() > self.deadline:
            raise TemplateTooCostly(f"it takes longer than {self.seconds:g} s to render")


_budget: ContextVar[_Budget | None] = ContextVar("template_budget", default=None)


def start_budget(seconds: float):
    """A fresh budget for one render; hand the token to end_budget()."""
    return _budget.set(_Budget(seconds))


def end_budget(token) -> None:
    _budget.reset(token)


def spend(steps: int = 1, chars: int = 0) -> None:
    """Count `steps` and `chars` built against the render under way (none while a template is compiled)."""
    budget = _budget.get()
    if budget is not None:
        budget.spend(steps * STEP_COST + chars)


def loop_turns(iterable, text: int):
    """`iterable`, each item counted as a loop turn that outputs `text` characters of its body's own."""
    budget = _budget.get()
    for item in iterable:
        if budget is not None:
            budget.loops -= 1
            if budget.loops < 0:
                raise TemplateTooCostly(f"its loops would run more than {MAX_LOOPS:,} times in all")
            budget.spend(STEP_COST + text)
        yield item


def counted(iterable):
    """`iterable`, a step per item: what filters and calls read from a generator."""
    for item in iterable:
        spend()
        yield item


def budgeted_range(*args):
    """range(), but all the range() calls of one render share MAX_RANGE_ITEMS numbers between them."""
    numbers = range(*args)
    budget = _budget.get()
    if budget is not None:
        budget.numbers -= len(numbers)
        if budget.numbers < 0:
            raise TemplateTooCostly(f"a template may loop over at most {MAX_RANGE_ITEMS:,} numbers in all")
    return numbers


# Sizes -----------------------------------------------------------------------------------------

_SEQUENCES = (list, tuple, set, frozenset, KeysView, ValuesView, ItemsView)


def measure(value, limit: int = MAX_VALUE) -> int:
    """How many characters `value` would print as, at most, counted until it passes `limit`."""
    size, walked, stack = 0, 0, [value]
    while stack and size <= limit:
        item = stack.pop()
        if isinstance(item, (str, bytes, bytearray)):
            size += len(item)
        elif isinstance(item, bool) or item is None or isinstance(item, (float, complex)):
            size += 24
        elif isinstance(item, int):
            size += item.bit_length() // 3 + 2
        elif isinstance(item, dict):
            size += 2 + 4 * len(item)
            if size <= limit:
                stack.extend(item.keys())
                stack.extend(item.values())
        elif isinstance(item, _SEQUENCES):
            size += 2 + 2 * len(item)
            if size <= limit:
                stack.extend(item)
        elif isinstance(item, Namespace):   # it prints its attributes (Jinja keeps them in a private dict)
            try:
                stack.append(object.__getattribute__(item, "_Namespace__attrs"))
            except AttributeError:
                size += limit + 1            # cannot tell: refuse rather than guess
                break
        else:                               # dates, macros, the loop, generators: short when printed
            size += 40
        walked += 1
    spend(walked)
    return size


def fits(size: int) -> None:
    """Refuse a step that would build more than MAX_VALUE characters."""
    if size > MAX_VALUE:
        raise TemplateTooCostly(f"a step would build a text or list of more than {MAX_VALUE:,} characters")


def check_value(value) -> int:
    """The value's size, refused over the limit (a step's inputs and its result)."""
    size = measure(value)
    fits(size)
    return size


def fits_bits(bits: int) -> None:
    if bits > MAX_INT_BITS:
        raise TemplateTooCostly(f"a step would build a number of more than {MAX_INT_BITS:,} bits")


def checked_width(value) -> int:
    """A width or count given to a step: an int, refused beyond MAX_VALUE (strings count their length)."""
    if isinstance(value, (str, bytes)):
        return len(value)
    number = value if isinstance(value, int) else 0
    fits(number)
    return number


def produced(result):
    """A step's result: measured and charged, or, when it is a generator, counted as it is read."""
    if isinstance(result, Iterator) and not isinstance(result, Sized):
        return counted(result)
    if isinstance(result, int) and not isinstance(result, bool):
        fits_bits(result.bit_length())
    spend(1, check_value(result))
    return result


# Steps that could build something enormous from small inputs --------------------------------

def check_product(left, right) -> None:
    """`*`: a text or list times a number, or two numbers."""
    for seq, count in ((left, right), (right, left)):
        if isinstance(seq, (str, bytes, list, tuple)) and isinstance(count, int) and count > 0:
            fits(measure(seq) * count)
    if isinstance(left, int) and isinstance(right, int):
        fits_bits(left.bit_length() + right.bit_length())


def check_power(left, right) -> None:
    """`**`: the exponent is small, and so is the number it makes."""
    if isinstance(right, (int, float)) and abs(right) > MAX_EXPONENT:
        raise TemplateTooCostly("exponent too large in a template")
    if isinstance(left, int) and isinstance(right, int) and right > 0:
        fits_bits(max(left.bit_length(), 1) * right)


def check_sum(left, right) -> None:
    """`+` of two texts or lists."""
    if isinstance(left, (str, bytes, list, tuple)) and isinstance(right, (str, bytes, list, tuple)):
        fits(measure(left) + measure(right))


def replaced_size(text, old, new, count=-1) -> int:
    """How long `text.replace(old, new, count)` will be, worked out without doing it."""
    text, old, new = str(text), str(old), str(new)
    found = text.count(old)
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    return len(text) + found * (len(new) - len(old))


def joined_size(items, separator) -> int:
    """How long `separator.join(items)` will be, at most."""
    count = len(items) if isinstance(items, Sized) else 0
    return measure(items) + len(str(separator)) * max(count - 1, 0)


_PRINTF = re.compile(r"%(?:\((?P<key>[^)]*)\))?[-#0 +]*(?P<width>\*|\d+)?(?:\.(?P<precision>\*|\d+))?"
                     r"[hlL]?(?P<conversion>[diouxXeEfFgGcrsa%])")


def check_printf(template, values) -> None:
    """`text % values` and `|format`: no `*` widths, and no more than MAX_VALUE characters made."""
    template = str(template)
    positional = values if isinstance(values, tuple) else (values,)
    size, index = len(template), 0
    for match in _PRINTF.finditer(template):
        if match["conversion"] == "%":
            continue
        if "*" in (match["width"], match["precision"]):
            raise TemplateTooCostly("a '*' width or precision is not allowed in a template")
        if match["key"] is not None and isinstance(values, dict):
            value = values.get(match["key"])
        else:
            value, index = (positional[index] if index < len(positional) else None), index + 1
        stretch = 10 if match["conversion"] in "ra" else 1   # repr() may escape a character as \U0001f600
        size += (checked_width(int(match["width"] or 0)) + checked_width(int(match["precision"] or 0))
                 + stretch * measure(value) + 24)
        fits(size)


_SPEC_NUMBERS = re.compile(r"\d+")


def check_format_spec(spec) -> int:
    """A str.format field's spec ("{:>20}"): its widths, as characters it may add."""
    return sum(checked_width(int(number)) for number in _SPEC_NUMBERS.findall(str(spec or "")))


def check_method(method, args: tuple, kwargs: dict) -> tuple:
    """Check a call of a text's or number's method before it runs; returns the args to call it with."""
    owner, name = getattr(method, "__self__", None), getattr(method, "__name__", "")
    if isinstance(owner, (str, bytes, bytearray)):
        def arg(position, key, default=None):
            return args[position] if len(args) > position else kwargs.get(key, default)

        if name in ("center", "ljust", "rjust", "zfill"):
            checked_width(arg(0, "width", 0))
        elif name == "expandtabs":
            tabs = owner.count("\t") if isinstance(owner, str) else owner.count(b"\t")
            fits(len(owner) + tabs * checked_width(arg(0, "tabsize", 8)))
        elif name == "replace" and len(args) >= 2:
            fits(replaced_size(owner, args[0], args[1], arg(2, "count", -1)))
        elif name == "join" and args:
            items = args[0]
            if isinstance(items, Iterator) and not isinstance(items, Sized):
                items = list(counted(items))
                args = (items, *args[1:])
            fits(joined_size(items, owner))
        elif name == "translate" and args and isinstance(args[0], dict):
            longest = max((len(v) for v in args[0].values() if isinstance(v, (str, bytes))), default=1)
            fits(len(owner) * max(longest, 1))
    elif isinstance(owner, int) and name == "to_bytes":
        checked_width(args[0] if args else kwargs.get("length", 1))
    return args
