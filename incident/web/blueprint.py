"""The staff web UI's one blueprint: every page module adds its views to it."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("web", __name__)
