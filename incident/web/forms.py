"""Form helpers the staff pages share: validate a form with its schema, flash an error."""
from __future__ import annotations

from flask import flash
from pydantic import BaseModel, ValidationError

from ..api import validation_details
from ..errors import AppError, ValidationFailed


def parse_form(model: type[BaseModel], data: dict) -> BaseModel:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise ValidationFailed("Please correct the form.", details=validation_details(error)) from None


def flash_error(error: AppError) -> None:
    detail = "; ".join(f"{k}: {v}" for k, v in error.details.items() if k not in {"current"})
    flash(error.message + (f" ({detail})" if detail else ""), "error")
