"""Times in words (templating): the relative part and the countdown markup the page's script
keeps current."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Flask, g

from dashboard.templating import countdown, relative_to, when

NOW = datetime(2026, 12, 2, 6, 53, 18, tzinfo=UTC)


def test_the_relative_steps():
    assert relative_to(NOW + timedelta(seconds=3), NOW) == "just now"
    assert relative_to(NOW + timedelta(seconds=47), NOW) == "in 47 s"
    assert relative_to(NOW - timedelta(minutes=3), NOW) == "3 min ago"
    assert relative_to(NOW - timedelta(hours=2), NOW) == "2 h ago"
    assert relative_to(NOW - timedelta(days=5), NOW) == "5 days ago"


def test_a_countdown_is_a_time_marked_for_counting_down():
    with Flask(__name__).test_request_context():
        g.viewer_zone = ZoneInfo("Asia/Kuala_Lumpur")
        html = str(countdown(NOW + timedelta(seconds=47), NOW))
        assert html == (
            '<time datetime="2026-12-02T06:54:05Z" data-countdown>2026-12-02 14:54:05 +08</time>'
            ' <span class="text-body-secondary" data-relative-text>(in 47 s)</span>'
        )
        assert str(when(NOW - timedelta(minutes=3), NOW)) == (
            '<time datetime="2026-12-02T06:50:18Z" data-relative>2026-12-02 14:50:18 +08</time>'
            ' <span class="text-body-secondary" data-relative-text>(3 min ago)</span>'
        )
        assert str(countdown(None)) == ""
