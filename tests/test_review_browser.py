"""The review report in a real browser: Debian's Chromium driven headless by Playwright.

The report of a real scored session (an espeak-ng stereo role-play with a dismissive
interruption, scored by Whisper and the ONNX classifier) is opened from a file:// URL.
Screenshots go to tests/artifacts/ (review.png, review-200.png, review-print.png).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_review import ScoredSession, shared_session

from voicecoach.cli import main

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent / "artifacts"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs Debian's Chromium at /usr/bin/chromium (apt-get install chromium)",
)


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> ScoredSession:
    return shared_session(tmp_path_factory, "mixed")


@pytest.fixture(scope="module")
def report(session: ScoredSession, tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("browser") / "session"
    shutil.copytree(session.directory, directory)
    assert main(["review", str(directory)]) == 0
    return directory / "report.html"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
        try:
            yield instance
        finally:
            instance.close()


class Watched:
    """A page with every request and every console error or page error recorded."""

    def __init__(self, browser: Any, *, zoom: float = 1.0) -> None:
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.context = browser.new_context(
            viewport={"width": round(1280 / zoom), "height": round(900 / zoom)},
            device_scale_factor=zoom,
        )
        self.page = self.context.new_page()
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def open(self, path: Path) -> Any:
        self.page.goto(path.resolve().as_uri())
        self.page.wait_for_function(
            "() => { const a = document.getElementById('player');"
            " return a && a.readyState >= 1 && isFinite(a.duration); }",
            timeout=15000,
        )
        return self.page

    def close(self) -> None:
        self.context.close()

    def assert_offline_and_clean(self) -> None:
        assert self.errors == []
        assert self.requests, "the page itself was not requested"
        assert all(re.match(r"(file|data):", url) for url in self.requests), self.requests


def test_turns_and_flags_match_the_json_and_playback_follows_clicks(
    browser: Any, report: Path, session: ScoredSession
) -> None:
    record = session.record
    watched = Watched(browser)
    page = watched.open(report)

    turns = page.locator("li.turn")
    assert turns.count() == len(record["turns"])
    for i, turn in enumerate(record["turns"]):
        item = turns.nth(i)
        assert item.get_attribute("data-speaker") == turn["speaker"]
        assert item.locator("p.text").inner_text().strip() == turn["text"].strip()
        labels = item.locator(".chip.risk").evaluate_all("els => els.map(e => e.dataset.label)")
        assert labels == turn["flags"]
        good = item.locator(".chip.strength").evaluate_all("els => els.map(e => e.dataset.label)")
        assert good == turn["strengths"]

    flags = page.locator("li.flag")
    assert flags.count() == len(record["flags"]) > 0
    for i, flag in enumerate(record["flags"]):
        card = flags.nth(i)
        assert card.get_attribute("data-label") == flag["label"]
        assert int(card.get_attribute("data-turn")) == flag["turn"]
        assert card.locator(".try").inner_text().strip() == flag["suggestion"].strip()
        assert card.locator(".why").inner_text().strip()
        if flag["evidence"]:
            assert card.locator(".quote mark").inner_text().strip() == flag["evidence"].strip()
            # the evidence is highlighted inside the turn it came from
            marks = page.locator(f"#turn-{flag['turn']} mark.evidence").all_inner_texts()
            joined = " ".join(marks)
            for word in re.findall(r"[\w']+", flag["evidence"]):
                assert word in joined, (word, marks)
    markers = page.locator(".marker")
    assert markers.count() == len({f["turn"] for f in record["flags"]})

    # the planted interruption and dismissal are flagged (needs the trained classifier);
    # clicking the interruption's flag card makes the audio jump to its turn
    labels = [f["label"] for f in record["flags"]]
    assert {"interruption", "dismissive"} <= set(labels), labels
    target = labels.index("interruption")
    start_s = record["flags"][target]["start_s"]
    assert start_s > 1.0
    flags.nth(target).locator("h3").click()
    now = page.evaluate("document.getElementById('player').currentTime")
    page.evaluate("document.getElementById('player').pause()")
    assert abs(now - start_s) <= 0.3, (now, start_s)

    # a turn in the conversation plays from its start too
    peer_turn = next(t for t in record["turns"] if t["speaker"] == "peer" and t["start_s"] > 1)
    page.locator(f"#turn-{peer_turn['index']} p.text").click()
    now = page.evaluate("document.getElementById('player').currentTime")
    page.evaluate("document.getElementById('player').pause()")
    assert abs(now - peer_turn["start_s"]) <= 0.3

    # keyboard, on a fresh page: n / p move the focus between flags and announce them
    page = watched.open(report)
    page.locator("h1").click()
    page.keyboard.press("n")
    assert page.evaluate("document.activeElement.id") == "flag-1"
    assert page.locator("#announce").inner_text().startswith(f"Flag 1 of {len(record['flags'])}")
    if len(record["flags"]) > 1:
        page.keyboard.press("ArrowRight")
        assert page.evaluate("document.activeElement.id") == "flag-2"
        now = page.evaluate("document.getElementById('player').currentTime")
        assert abs(now - record["flags"][1]["start_s"]) <= 0.3
        page.keyboard.press("p")
        assert page.evaluate("document.activeElement.id") == "flag-1"

    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("h1").click()
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(ARTIFACTS / "review.png"), full_page=True)
    watched.assert_offline_and_clean()
    watched.close()


def test_readable_at_200_percent_zoom_and_in_print(browser: Any, report: Path) -> None:
    watched = Watched(browser, zoom=2.0)
    page = watched.open(report)
    # no horizontal scrolling at 200 %: the layout reflows to one column
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 1
    columns = page.evaluate(
        "getComputedStyle(document.querySelector('.columns')).gridTemplateColumns.split(' ').length"
    )
    assert columns == 1
    size = page.evaluate("parseFloat(getComputedStyle(document.querySelector('.turn p')).fontSize)")
    assert size >= 16
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "review-200.png"), full_page=False)

    page.emulate_media(media="print")
    assert page.locator("#player").is_hidden()
    assert page.locator("li.flag").first.is_visible()
    page.screenshot(path=str(ARTIFACTS / "review-print.png"), full_page=False)
    watched.assert_offline_and_clean()
    watched.close()
