"""The tiered enterprise-service application: create_app and its registration steps."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from flask_babel import lazy_gettext as _l

from config import Config

from .deployment import apply_proxy_fix, check_secret_key, check_workers, engine_options, instance_secret_key
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
    """Refuse to start unless defusedxml is installed, which openpyxl then parses XML through (with
    lxml installed too, openpyxl's other parser is lxml's with entities left unresolved): no entity
    bombs, no XXE."""
    from openpyxl.xml import DEFUSEDXML

    if not DEFUSEDXML:
        raise RuntimeError("defusedxml is not installed: install requirements.txt before starting the app")


def configure_instance(app: Flask) -> None:
    """Fill the secret key and the SQLite default from instance/ when not configured, and refuse
    what production cannot run with (no SECRET_KEY there, several workers on SQLite)."""
    instance = Path(app.instance_path)
    check_secret_key(app.config)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = instance_secret_key(instance)
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        instance.mkdir(parents=True, exist_ok=True)
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{instance / 'service.db'}"
    check_workers(app.config["SQLALCHEMY_DATABASE_URI"], int(app.config.get("WEB_CONCURRENCY") or 1))
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(
        app.config["SQLALCHEMY_DATABASE_URI"], app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {}
    )
    apply_proxy_fix(app)


def register_extensions(app: Flask) -> None:
    """Bind the unbound extensions from extensions.py."""
    from . import models  # noqa: F401 - registers the tables on db.metadata
    from .data_versions import init_figure_cache
    from .database import begin_writing_requests, close_session, configure_sqlite, end_reading_transaction, track_writes
    from .i18n import select_locale, select_timezone

    db.init_app(app)
    app.teardown_appcontext(close_session)  # runs before Flask-SQLAlchemy's (teardowns run in reverse)
    app.teardown_request(end_reading_transaction)  # before both: the request context ends first
    with app.app_context():
        configure_sqlite(db.engine)
        track_writes(db.engine)
        if db.engine.dialect.name == "sqlite":
            app.before_request(begin_writing_requests)
    init_figure_cache(app)
    migrate.init_app(app, db, directory=str(Path(app.root_path).parent / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    login_manager.init_app(app)
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    from .auth.limits import init_login_limits
    from .auth.services import load_user

    init_login_limits(app)
    login_manager.user_loader(load_user)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please sign in to see this page.")
    login_manager.login_message_category = "warning"


def register_blueprints(app: Flask) -> None:
    """Mount each feature's blueprint."""
    from .admin import bp as admin_bp
    from .auth import bp as auth_bp
    from .buildings import bp as buildings_bp
    from .dashboard import bp as dashboard_bp
    from .exports import bp as exports_bp
    from .firm_requests import bp as requests_bp
    from .firms import bp as firms_bp
    from .followups import bp as followups_bp
    from .main import bp as main_bp
    from .reports import bp as reports_bp
    from .roster import bp as roster_bp
    from .tiers import bp as tiers_bp
    from .workload import bp as workload_bp

    app.register_blueprint(main_bp)
    app.register_blueprint(dashboard_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(firms_bp, url_prefix="/firms")
    app.register_blueprint(admin_bp, url_prefix="/admin")
    app.register_blueprint(roster_bp, url_prefix="/roster")
    app.register_blueprint(tiers_bp, url_prefix="/tiers")
    app.register_blueprint(followups_bp, url_prefix="/followups")
    app.register_blueprint(requests_bp, url_prefix="/requests")
    app.register_blueprint(exports_bp, url_prefix="/exports")
    app.register_blueprint(workload_bp, url_prefix="/workload")
    app.register_blueprint(reports_bp, url_prefix="/reports")
    app.register_blueprint(buildings_bp, url_prefix="/buildings")


def register_errorhandlers(app: Flask) -> None:
    """Friendly pages for errors; never a traceback."""
    from .errors import register

    register(app)


def register_security_headers(app: Flask) -> None:
    """CSP without inline script, nosniff, no framing, a strict referrer policy."""
    from .security import add_security_headers

    app.after_request(add_security_headers)


def register_template_helpers(app: Flask) -> None:
    """Labels and small helpers every template uses, and WTForms' faster attribute writer."""
    from . import form_widgets
    from .firms.rows import firm_rows_html
    from .followups.rows import followup_rows_html
    from .i18n import TEMPLATE_GLOBALS, install_template_gettext, template_context
    from .navigation import navigation
    from .pagination import pager_html

    install_template_gettext(app)
    form_widgets.install()
    app.jinja_env.globals.update(
        TEMPLATE_GLOBALS,
        navigation=navigation,
        pager_html=pager_html,
        firm_rows_html=firm_rows_html,
        followup_rows_html=followup_rows_html,
    )
    app.context_processor(template_context)


def register_commands(app: Flask) -> None:
    """CLI groups: users, firms, demo (db comes from Flask-Migrate)."""
    from .cli import register

    register(app)
