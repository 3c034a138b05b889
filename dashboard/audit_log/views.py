"""The audit log (auditors and admins): filter by actor, action and date; the chain's state."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from flask import g, render_template, request, url_for
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import DateField, HiddenField, StringField
from wtforms.validators import Length, Optional

from ..extensions import db
from ..models import AuditEvent
from ..security import roles_required
from ..services import audit, cursors
from . import bp

PAGE_SIZE = 50


class AuditFilterForm(FlaskForm):
    class Meta:
        csrf = False

    actor = StringField("Actor", validators=[Optional(), Length(max=254)])
    action = StringField("Action", validators=[Optional(), Length(max=64)])
    date_from = DateField("From", validators=[Optional()])
    date_to = DateField("To", validators=[Optional()])
    after = HiddenField()


@bp.route("/audit")
@roles_required("auditor", "admin")
def index() -> str | tuple[str, int]:
    form = AuditFilterForm(request.args)
    if not form.validate():
        return render_template("audit_log/index.html", form=form, events=[], chain=None), 400
    statement = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(PAGE_SIZE + 1)
    if form.actor.data:
        statement = statement.where(AuditEvent.actor_label == form.actor.data.strip().lower())
    if form.action.data:
        statement = statement.where(AuditEvent.action == form.action.data.strip())
    zone = g.viewer_zone
    if form.date_from.data:
        start = datetime.combine(form.date_from.data, time.min, tzinfo=zone)
        statement = statement.where(AuditEvent.created_at >= start)
    if form.date_to.data:
        end = datetime.combine(form.date_to.data + timedelta(days=1), time.min, tzinfo=zone)
        statement = statement.where(AuditEvent.created_at < end)
    if form.after.data:
        try:
            (before,) = cursors.read(form.after.data, kind="audit")
            statement = statement.where(AuditEvent.id < before)
        except cursors.BadCursor as error:
            form.after.errors = [str(error)]
            return render_template("audit_log/index.html", form=form, events=[], chain=None), 400
    events = list(db.session.scalars(statement))
    next_url = None
    if len(events) > PAGE_SIZE:
        events = events[:PAGE_SIZE]
        args: dict[str, Any] = {
            **request.args.to_dict(),
            "after": cursors.make(events[-1].id, kind="audit"),
        }
        next_url = url_for("audit.index", **args)
    return render_template(
        "audit_log/index.html",
        form=form,
        events=events,
        next_url=next_url,
        chain=audit.verify_chain(),
    )
