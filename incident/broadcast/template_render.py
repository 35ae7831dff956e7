"""Compile and run one template source in a sandbox, turning any failure into a clear one."""
from __future__ import annotations

from functools import lru_cache

from jinja2 import Environment, TemplateSyntaxError
from jinja2.sandbox import SecurityError

from ..errors import ValidationFailed
from .template_limits import end_budget, spend, start_budget

SOURCE_NAME = "<template>"
MAX_OUTPUT = 200_000    # characters one part may render to: far beyond any real email, never gigabytes
MAX_SECONDS = 2.0       # a render still running after this long is stopped (checked at every step)


class TemplateFailed(Exception):
    """A template that does not parse or does not render: what went wrong, and on which line."""
    def __init__(self, reason: str, line: int | None, part: str = "body"):
        super().__init__(reason)
        self.reason, self.line, self.part = reason, line, part

    def as_validation(self, name: str):
        """The domain error the caller raises: "apology.it.email subject, line 2: …"."""
        part = self.part
        where = f"{name} {part}" + (f", line {self.line}" if self.line else "")
        return ValidationFailed(f"The template {where} does not work: {self.reason}",
                                details={"template": name, "part": part, "line": self.line,
                                         "error": self.reason}, code="template_invalid")


@lru_cache(maxsize=512)
def _compile(env: Environment, source: str):
    return env.from_string(source)


def _line_of(error: BaseException) -> int | None:
    """The template line a runtime error came from (Jinja rewrites its traceback for this)."""
    line, tb = None, error.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == SOURCE_NAME:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _reason(error: BaseException | str) -> str:
    if isinstance(error, SecurityError):
        return f"not allowed in a template ({error})"
    text = error if isinstance(error, str) else (str(error) or type(error).__name__)
    return text if text.endswith(".") else text + "."


def render_source(env: Environment, source: str, values: dict, part: str = "body") -> str:
    """Render `source` with `values`; TemplateFailed for any problem in the template."""
    try:
        template = _compile(env, source)
    except TemplateSyntaxError as error:
        raise TemplateFailed(_reason(error.message or str(error)), error.lineno, part) from None
    except (RecursionError, MemoryError):   # brackets or blocks nested thousands deep
        raise TemplateFailed("it is nested too deeply.", None, part) from None
    budget = start_budget(MAX_SECONDS)   # loop turns, steps and the deadline (see template_limits)
    try:
        chunks, size = [], 0
        for chunk in template.generate(values):
            chunks.append(chunk)
            size += len(chunk)
            if size > MAX_OUTPUT:
                raise TemplateFailed(f"it renders to more than {MAX_OUTPUT:,} characters.", None, part)
            spend(0)
        return "".join(chunks)
    except TemplateFailed:
        raise
    except Exception as error:  # the template is staff-written code: all it raises is its failure
        raise TemplateFailed(_reason(error), _line_of(error), part) from None
    finally:
        end_budget(budget)
