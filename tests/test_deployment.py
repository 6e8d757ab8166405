"""Production start-up: SECRET_KEY required, one worker on SQLite, gunicorn's settings, the proxy's
headers, deploy/ in step with the app, and `flask backup`."""

from __future__ import annotations

import os
import re
import runpy
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from babel import Locale
from flask import url_for
from flask_migrate import upgrade

from config import Config, TestConfig
from service_app import create_app
from service_app.deployment import (
    ConfigurationError,
    check_workers,
    default_workers,
    instance_secret_key,
    warm_up,
)
from service_app.extensions import db

ROOT = Path(__file__).resolve().parents[1]


def config_for(url: str, **settings):
    class Settings(TestConfig):
        SQLALCHEMY_DATABASE_URI = url

    for name, value in settings.items():
        setattr(Settings, name, value)
    return Settings


class TestStartUp:
    def test_production_refuses_to_start_without_a_secret_key(self, database_url):
        with pytest.raises(ConfigurationError, match="SECRET_KEY is not set"):
            create_app(config_for(database_url, APP_ENV="production", SECRET_KEY=None))

    def test_production_starts_with_one(self, database_url):
        app = create_app(config_for(database_url, APP_ENV="production", SECRET_KEY="k" * 64))
        assert app.config["SECRET_KEY"] == "k" * 64

    def test_development_generates_a_private_key_once(self, tmp_path):
        key = instance_secret_key(tmp_path)
        assert len(key) == 64 and instance_secret_key(tmp_path) == key
        assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600

    @pytest.mark.parametrize(
        ("url", "workers", "refused"),
        [
            (None, 1, False),
            ("sqlite:////srv/service.db", 1, False),
            (None, 2, True),
            ("sqlite:////srv/service.db", 5, True),
            ("postgresql+psycopg://app@db/service", 5, False),
        ],
    )
    def test_sqlite_serves_one_worker(self, url, workers, refused):
        if refused:
            with pytest.raises(ConfigurationError, match=f"SQLite serves one web worker, not {workers}"):
                check_workers(url, workers)
        else:
            check_workers(url, workers)

    def test_the_app_refuses_sqlite_with_several_workers(self, tmp_path):
        with pytest.raises(ConfigurationError, match="not 3"):
            create_app(config_for(f"sqlite:///{tmp_path / 'one.db'}", WEB_CONCURRENCY=3))

    def test_postgresql_connections_are_pinged_and_time_out(self, database_url):
        app = create_app(config_for("postgresql+psycopg://app@db.invalid/service"))
        options = app.config["SQLALCHEMY_ENGINE_OPTIONS"]
        assert options["pool_pre_ping"] is True
        assert options["connect_args"]["connect_timeout"] == 5


class TestGunicornSettings:
    def settings(self, monkeypatch, **env):
        for name in ("WEB_CONCURRENCY", "BIND"):
            monkeypatch.delenv(name, raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return runpy.run_path(str(ROOT / "gunicorn.conf.py"))

    def test_two_workers_per_core_plus_one(self, monkeypatch):
        settings = self.settings(monkeypatch)
        assert settings["workers"] == default_workers() == 2 * os.cpu_count() + 1
        assert settings["bind"] == "127.0.0.1:8000"

    def test_web_concurrency_overrides(self, monkeypatch):
        assert self.settings(monkeypatch, WEB_CONCURRENCY="3")["workers"] == 3

    def test_a_worker_compiles_every_template_before_its_first_request(self, database_url):
        app = create_app(config_for(database_url))
        compiled = warm_up(app)
        on_disk = [path for path in (ROOT / "service_app").rglob("templates/**/*") if path.is_file()]
        assert compiled == len(on_disk) > 30  # every page and macro file of every blueprint
        assert len(app.jinja_env.cache) == compiled
        with app.test_request_context():
            app.jinja_env.get_template("firms/index.html")
        assert len(app.jinja_env.cache) == compiled  # served from the cache, not compiled again
        loaded = {locale for locale, _domain in app.extensions["babel"].instance.domain_instance.cache}
        assert {str(Locale.parse(code)) for code in app.config["LANGUAGES"]} <= loaded  # each catalogue, parsed once


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def gunicorn(url: str, tmp_path: Path, **env: str) -> tuple[subprocess.Popen, int, Path]:
    port = free_port()
    log = tmp_path / f"gunicorn-{port}.log"
    environment = {k: v for k, v in os.environ.items() if k not in ("WEB_CONCURRENCY", "APP_ENV")}
    environment |= {"DATABASE_URL": url, "SECRET_KEY": "k" * 64, "BIND": f"127.0.0.1:{port}", **env}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "wsgi:app"],
            cwd=ROOT,
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return process, port, log


def get(port: int, path: str, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
                return response.status
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.fixture
def migrated_url(empty_database_url):
    app = create_app(config_for(empty_database_url))
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return empty_database_url


class TestGunicorn:
    def test_sqlite_with_several_workers_does_not_start(self, tmp_path):
        process, _port, log = gunicorn(f"sqlite:///{tmp_path / 'one.db'}", tmp_path, WEB_CONCURRENCY="3")
        assert process.wait(timeout=60) == 1
        assert "SQLite serves one web worker, not 3" in log.read_text()

    def test_production_without_a_secret_key_does_not_start(self, tmp_path):
        process, _port, log = gunicorn(
            f"sqlite:///{tmp_path / 'one.db'}", tmp_path, WEB_CONCURRENCY="1", APP_ENV="production", SECRET_KEY=""
        )
        assert process.wait(timeout=60) == 1
        assert "SECRET_KEY is not set" in log.read_text()

    def test_it_serves(self, migrated_url, tmp_path):
        """One worker on SQLite; two on PostgreSQL (when the suite runs there)."""
        workers = "2" if migrated_url.startswith("postgresql") else "1"
        process, port, log = gunicorn(migrated_url, tmp_path, WEB_CONCURRENCY=workers)
        try:
            assert get(port, "/healthz") == 200, log.read_text()
            assert get(port, "/login") == 200
            assert log.read_text().count("Booting worker") == int(workers)
        finally:
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=60) == 0


class TestProxyFix:
    def test_forwarded_headers_are_ignored_without_a_proxy(self, database_url):
        app = create_app(config_for(database_url))
        with app.test_request_context(
            "/",
            headers={"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"},
            environ_base={"REMOTE_ADDR": "10.0.0.2"},
        ):
            from flask import request

            assert request.remote_addr == "10.0.0.2"

    def test_one_proxy_is_trusted_when_configured(self, database_url):
        app = create_app(config_for(database_url, PROXY_FIX_X_FOR=1, PROXY_FIX_X_PROTO=1, PROXY_FIX_X_HOST=1))
        seen = {}

        @app.get("/_where")
        def where():
            from flask import request

            seen.update(addr=request.remote_addr, url=url_for("auth.login", _external=True))
            return "ok"

        app.test_client().get(
            "/_where",
            headers={
                "X-Forwarded-For": "198.51.100.1, 203.0.113.7",
                "X-Forwarded-Proto": "https",
                "X-Forwarded-Host": "qy.example.cn",
            },
        )
        assert seen == {"addr": "203.0.113.7", "url": "https://qy.example.cn/login"}


class TestDeployFiles:
    def test_nginx_takes_the_uploads_the_app_takes(self):
        site = (ROOT / "deploy" / "nginx.conf").read_text()
        size = re.search(r"client_max_body_size (\d+)m;", site)
        assert size and int(size.group(1)) * 1024 * 1024 == Config.MAX_CONTENT_LENGTH
        timeout = re.search(r"proxy_read_timeout (\d+)s;", site)
        assert timeout and int(timeout.group(1)) == runpy.run_path(str(ROOT / "gunicorn.conf.py"))["timeout"]
        assert "proxy_set_header X-Forwarded-For $remote_addr;" in site

    def test_units_start_what_exists(self):
        web = (ROOT / "deploy" / "service-app.service").read_text()
        scheduler = (ROOT / "deploy" / "service-app-scheduler.service").read_text()
        assert "gunicorn --config gunicorn.conf.py wsgi:app" in web
        assert "flask --app wsgi scheduler run" in scheduler
        assert "Restart=always" in scheduler
        env = (ROOT / "deploy" / "env.example").read_text()
        for name in ("APP_ENV=production", "SECRET_KEY=", "DATABASE_URL=", "REDIS_URL=", "PROXY_FIX_X_FOR=1"):
            assert name in env


class TestBackup:
    def test_sqlite_is_copied_while_a_writer_carries_on(self, tmp_path):
        source = tmp_path / "live.db"
        with sqlite3.connect(source) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("CREATE TABLE firms (id INTEGER PRIMARY KEY, name TEXT)")
            conn.executemany("INSERT INTO firms (name) VALUES (?)", [(f"企业{n}",) for n in range(5000)])
        app = create_app(config_for(f"sqlite:///{source}"))
        stop = threading.Event()

        def write() -> None:
            conn = sqlite3.connect(source, timeout=15)
            while not stop.is_set():
                with conn:
                    conn.execute("INSERT INTO firms (name) VALUES ('后来的')")
            conn.close()

        writer = threading.Thread(target=write)
        writer.start()
        try:
            result = app.test_cli_runner().invoke(args=["backup", "-o", str(tmp_path / "copy.db")])
        finally:
            stop.set()
            writer.join()
        assert result.exit_code == 0, result.output
        assert "integrity check: ok" in result.output
        with sqlite3.connect(tmp_path / "copy.db") as copy:
            assert copy.execute("SELECT count(*) FROM firms WHERE name LIKE '企业%'").fetchone()[0] == 5000
            assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert not (tmp_path / ".copy.db.part").exists()

    def test_postgresql_is_pointed_at_pg_dump(self, tmp_path):
        app = create_app(config_for("postgresql+psycopg://app@db.invalid/service"))
        result = app.test_cli_runner().invoke(args=["backup", "-o", str(tmp_path / "copy.db")])
        assert result.exit_code == 1
        assert "pg_dump" in result.output
        assert not (tmp_path / "copy.db").exists()

    def test_a_missing_folder_is_refused(self, tmp_path):
        app = create_app(config_for(f"sqlite:///{tmp_path / 'live.db'}"))
        result = app.test_cli_runner().invoke(args=["backup", "-o", str(tmp_path / "nowhere" / "copy.db")])
        assert result.exit_code == 1
        assert "is not a folder" in result.output
