"""The list rows written in Python (firms/rows.py, followups/rows.py): the cells the templates
wrote, every value escaped."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

from service_app.domain.tiers import Chain, FirmStatus, Tier
from service_app.firms.rows import firm_rows_html
from service_app.followups.rows import followup_rows_html

EVIL = '<script>alert(1)</script>" onmouseover="x'


def test_firm_rows(app):
    rows = [
        SimpleNamespace(
            id=7,
            name=EVIL,
            credit_code="91330110MA2B000001",
            current_tier=Tier.KEY,
            chain=Chain.FASHION,
            street_id=1,
            building_id=3,
            status=FirmStatus.ACTIVE,
        ),
        SimpleNamespace(
            id=8,
            name="乙公司",
            credit_code="X",
            current_tier=None,
            chain=None,
            street_id=1,
            building_id=None,
            status=FirmStatus.RELOCATING,
        ),
    ]
    with app.test_request_context("/"):
        html = str(firm_rows_html(rows, {1: "临平街道"}, {3: "<b>楼</b>"}))
    assert "<script>" not in html and "&lt;script&gt;" in html and "&#34; onmouseover=&#34;x" in html
    assert '<a href="/firms/7">' in html and '<a href="/firms/8">' in html
    assert 'tier-key">重点服务</span>' in html and 'tier-none">未评定</span>' in html
    assert "<td>数字时尚</td>" in html and "<td>&lt;b&gt;楼&lt;/b&gt;</td>" in html
    assert html.count("<td>—</td>") == 2  # no chain, no building
    assert "<td>临平街道</td>" in html and "<td>正常</td>" in html and "<td>迁移中</td>" in html


def test_followup_rows(app):
    today = dt.date(2026, 11, 26)
    rows = [
        SimpleNamespace(
            id=5,
            firm_id=7,
            firm_name=EVIL,
            tier=Tier.EXIT,
            due_date=dt.date(2026, 11, 20),
            base_date=dt.date(2026, 8, 20),
            street_name="临平街道",
            officer_label=None,
        ),
        SimpleNamespace(
            id=6,
            firm_id=8,
            firm_name="乙公司",
            tier=Tier.KEY,
            due_date=today,
            base_date=dt.date(2026, 10, 26),
            street_name="东湖街道",
            officer_label="王专员",
        ),
    ]
    with app.test_request_context("/"):
        html = str(followup_rows_html(rows, today))
        empty = str(followup_rows_html([], today))
    assert "<script>" not in html and "&lt;script&gt;" in html
    first, second = html.split("\n")
    assert "text-danger fw-semibold" in first and "逾期 6 天" in first and "2026-11-20" in first
    assert "text-danger" not in second and "逾期" not in second  # due today is not late
    assert '<a href="/firms/7">' in first and 'href="/followups/5"' in first and "<td>—</td>" in first
    assert "<td>王专员</td>" in second and 'tier-key">重点服务</span>' in second
    assert empty == '<tr><td colspan="7" class="text-muted">暂无内容。</td></tr>'
