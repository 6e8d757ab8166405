"""The tiered enterprise-service application: create_app and its registration steps."""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

from flask import Flask
from flask_babel import lazy_gettext as _l

from config import Config

from .extensions import babel, csrf, db, login_manager, migrate


def create_app(config: type[Config] | object = Config) -> Flask:
    """Build the app: configuration, extensions, blueprints, error pages, commands."""
    check_safe_xml()
    app = Flask(__name__)
    app.config.from_object(config)
    from .security import BoundedIntConverter, TextRequest

    app.url_map.converters["int"] = BoundedIntConverter  # before any route: huge ids are 404s
    app.request_class = TextRequest  # no NUL in query or form values
    configure_instance(app)
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_security_headers(app)
    register_template_helpers(app)
    register_commands(app)
    return app


def check_safe_xml() -> None:
    """Refuse to start unless openpyxl parses XML through defusedxml (entity bombs, XXE)."""
    from openpyxl.xml import DEFUSEDXML

    if not DEFUSEDXML:
        raise RuntimeError("defusedxml is not installed: install requirements.txt before starting the app")


def configure_instance(app: Flask) -> None:
    """Fill the secret key and the SQLite default from instance/ when not configured."""
    instance = Path(app.instance_path)
    if not app.config.get("SECRET_KEY"):
        instance.mkdir(parents=True, exist_ok=True)
        key_file = instance / "secret_key"
        try:  # created private and only once, even when two workers start together
            handle = os.open(key_file, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            key = ""
            for _ in range(50):  # the worker that created it may not have written it yet
                key = key_file.read_text().strip()
                if key:
                    break
                time.sleep(0.1)
            if not key:
                raise RuntimeError(f"{key_file} is empty: delete it and start again") from None
        else:
            key = secrets.token_hex(32)
            with os.fdopen(handle, "w") as out:
                out.write(key)
        app.config["SECRET_KEY"] = key
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        instance.mkdir(parents=True, exist_ok=True)
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{instance / 'service.db'}"


def register_extensions(app: Flask) -> None:
    """Bind the unbound extensions from extensions.py."""
    from . import models  # noqa: F401 - registers the tables on db.metadata
    from .database import configure_sqlite
    from .i18n import select_locale, select_timezone

    db.init_app(app)
    with app.app_context():
        configure_sqlite(db.engine)
    migrate.init_app(app, db, directory=str(Path(app.root_path).parent / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    login_manager.init_app(app)
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    from .auth.services import load_user

    login_manager.user_loader(load_user)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please sign in to see this page.")
    login_manager.login_message_category = "warning"


def register_blueprints(app: Flask) -> None:
    """Mount each feature's blueprint."""
    from .admin import bp as admin_bp
    from .auth import bp as auth_bp
    from .exports import bp as exports_bp
    from .firm_requests import bp as requests_bp
    from .firms import bp as firms_bp
    from .followups import bp as followups_bp
    from .main import bp as main_bp
    from .roster import bp as roster_bp
    from .tiers import bp as tiers_bp

    app.register_blueprint(main_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(firms_bp, url_prefix="/firms")
    app.register_blueprint(admin_bp, url_prefix="/admin")
    app.register_blueprint(roster_bp, url_prefix="/roster")
    app.register_blueprint(tiers_bp, url_prefix="/tiers")
    app.register_blueprint(followups_bp, url_prefix="/followups")
    app.register_blueprint(requests_bp, url_prefix="/requests")
    app.register_blueprint(exports_bp, url_prefix="/exports")


def register_errorhandlers(app: Flask) -> None:
    """Friendly pages for errors; never a traceback."""
    from .errors import register

    register(app)


def register_security_headers(app: Flask) -> None:
    """CSP without inline script, nosniff, no framing, a strict referrer policy."""
    from .security import add_security_headers

    app.after_request(add_security_headers)


def register_template_helpers(app: Flask) -> None:
    """Labels and small helpers every template uses."""
    from .i18n import TEMPLATE_GLOBALS, template_context

    app.jinja_env.globals.update(TEMPLATE_GLOBALS)
    app.context_processor(template_context)


def register_commands(app: Flask) -> None:
    """CLI groups: users, firms, demo (db comes from Flask-Migrate)."""
    from .cli import register

    register(app)
