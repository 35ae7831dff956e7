"""The Staff page (admins): invite, change roles, deactivate, revoke tokens; and the one-time
set-password page an invitation links to. Every change goes through auth.service, as the CLI's do."""
from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for

from ..auth import service as staff
from ..auth.access import login_required
from ..auth.policy import PERMISSION_ROLES
from ..errors import AppError
from .blueprint import bp
from .forms import flash_error


def _page(status: int = 200, **extra):
    users = staff.list_staff()
    tokens = {user.id: staff.list_tokens(user) for user in users}
    return render_template("staff.html", users=users, tokens=tokens, roles=PERMISSION_ROLES, **extra), status


@bp.get("/staff")
@login_required("admin")
def staff_page():
    return _page()


@bp.post("/staff/invite")
@login_required("admin")
def staff_invite():
    form = {key: request.form.get(key, "") for key in ("email", "name", "role")}
    try:
        invitation = staff.invite_staff(g.user, form["email"], role=form["role"], name=form["name"])
    except AppError as error:
        flash_error(error)
        return _page(error.status, invite=form)
    # Shown once, on this answer only: not flashed, so it never sits in the session cookie.
    return _page(invited=invitation.user, link=invitation.link)


@bp.post("/staff/<int:user_id>/<action>")
@login_required("admin")
def staff_action(user_id: int, action: str):
    if action not in {"role", "deactivate", "reactivate", "revoke-tokens", "password-link"}:
        abort(404)
    user = staff.get_staff_or_raise(user_id)
    try:
        if action == "role":
            staff.change_staff_role(g.user, user, request.form.get("role", ""))
            flash(f"{user.email} is now {user.role}.", "ok")
        elif action == "deactivate":
            staff.deactivate_staff(g.user, user)
            flash(f"Deactivated {user.email}: their sessions ended and their tokens are revoked.", "ok")
        elif action == "reactivate":
            staff.reactivate_staff(g.user, user)
            flash(f"Reactivated {user.email}.", "ok")
        elif action == "revoke-tokens":
            chosen = request.form.get("token_id")
            if chosen is not None and not chosen.isdigit():
                abort(400)   # never read as "all of them"
            count = staff.revoke_staff_tokens(g.user, user, token_ids=None if chosen is None else [int(chosen)])
            flash(f"Revoked {count} token(s) of {user.email}.", "ok")
        else:
            return _page(link=staff.create_password_link(g.user, user), invited=user)
    except AppError as error:
        flash_error(error)
        return _page(error.status)
    return redirect(url_for("web.staff_page"))


@bp.route("/password/<token>", methods=["GET", "POST"])
def set_password_page(token: str):
    try:
        user = staff.user_for_password_link(token)
        if request.method == "POST":
            if request.form.get("password", "") != request.form.get("confirm", ""):
                flash("The two passwords differ.", "error")
                return render_template("set_password.html", user=user), 422
            staff.set_password_from_link(token, request.form.get("password", ""))
            flash("Password set. Log in with it now.", "ok")
            return redirect(url_for("web.login"))
    except AppError as error:
        flash_error(error)
        return render_template("set_password.html", user=None), error.status
    return render_template("set_password.html", user=user)
