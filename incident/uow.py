"""The unit of work: one commit per use case, at its outermost edge.

A service function wraps its writes in `unit_of_work()`. Called on its own (from a route, a job
or the CLI) it commits once at the end; called inside another unit (a flow that declares an
incident, links its flood and adds a rule) it only flushes, and the outer unit commits
everything together — or, when anything inside fails, rolls everything back.
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

from sqlalchemy.exc import IntegrityError

from .errors import Conflict
from .extensions import db

_DEPTH = "tocsin_unit_of_work_depth"
P = ParamSpec("P")
R = TypeVar("R")


DEFAULT_CONFLICT = ("A concurrent change got there first; try again.", "conflict")


@contextmanager
def unit_of_work(*, conflict: tuple[str, str] = DEFAULT_CONFLICT) -> Iterator[None]:
    """Commit what the block wrote if this is the outermost unit; roll all of it back on error.
    A unique or foreign-key violation at the commit is a `Conflict` (`conflict`: message, code)."""
    info = db.session.info
    depth = info.get(_DEPTH, 0)
    info[_DEPTH] = depth + 1
    try:
        yield
        if depth == 0:
            db.session.commit()
        else:
            db.session.flush()
    except IntegrityError:
        if depth:
            raise
        db.session.rollback()
        raise Conflict(conflict[0], code=conflict[1]) from None
    except BaseException:
        if depth == 0:
            db.session.rollback()
        raise
    finally:
        info[_DEPTH] = depth


def use_case(function: Callable[P, R] | None = None, *,
             conflict: tuple[str, str] = DEFAULT_CONFLICT) -> Any:
    """Run a service function as one unit of work (see `unit_of_work`); `@use_case` or
    `@use_case(conflict=(message, code))`."""
    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(function)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            with unit_of_work(conflict=conflict):
                return function(*args, **kwargs)
        return wrapper
    return decorate(function) if function is not None else decorate
