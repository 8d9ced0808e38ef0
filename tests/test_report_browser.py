"""The HTML report in a real headless Chromium (Debian's chromium + Playwright).

Skipped, with the reason, where either is missing; ``.ci/run`` installs both.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _tracegen import write_research

from asynctrace.export import write_report

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).parent / "artifacts"
FIRST_VIEW_LIMIT_S = 15.0  # generous: a functional check on a shared CPU, not a benchmark

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
if not Path(CHROMIUM).exists():
    pytest.skip(
        "chromium is not installed (apt-get install chromium; .ci/run does)",
        allow_module_level=True,
    )

pytestmark = pytest.mark.timeout(300)


class Page:
    """A browser page that records console errors and every request it makes."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.errors: list[str] = []
        self.requests: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("request", lambda r: self.requests.append(r.url))

    def open(self, path: Path) -> float:
        started = time.perf_counter()
        self.page.goto(path.as_uri())
        self.page.wait_for_selector("html[data-ready='1']", timeout=FIRST_VIEW_LIMIT_S * 1000 * 2)
        return time.perf_counter() - started

    def visible_spans(self) -> list[str]:
        return self.labels("#tree-rows [data-span] .label")

    def labels(self, selector: str) -> list[str]:
        return [r.inner_text() for r in self.page.query_selector_all(selector)]

    def assert_clean(self, path: Path) -> None:
        assert self.errors == []
        assert self.requests == [path.as_uri()]


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_api.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            headless=True,
            args=FLAGS,
            viewport={"width": 1400, "height": 1400},
        )
        yield context
        context.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Page]:
    p = browser.new_page()
    yield Page(p)
    p.close()


@pytest.fixture
def research_report(tmp_path: Path) -> Path:
    return write_report(write_research(tmp_path)[0], tmp_path / "research.html")


def test_the_report_opens_without_errors_or_requests_and_shows_every_span(
    page: Page, research_report: Path
) -> None:
    page.open(research_report)
    page.assert_clean(research_report)
    spans = page.visible_spans()
    assert len(spans) == 14
    assert spans[0] == "run research"
    assert spans.count("tool fetch") == 3
    assert page.page.locator("#captures-panel").is_hidden()  # nothing captured here


def test_clicking_a_span_shows_its_tokens_and_cost(page: Page, research_report: Path) -> None:
    page.open(research_report)
    page.page.locator("#tree-rows [data-span]", has_text="llm gpt-x").first.click()
    details = page.page.locator("#details")
    assert details.locator("h3").first.inner_text() == "llm gpt-x"
    assert details.locator("td.tokens").inner_text() == "in 1200 · out 340"
    assert details.locator("td.cost").inner_text() == "$0.0040"
    assert "I will search the docs" in details.inner_text()
    page.assert_clean(research_report)


def test_clicking_a_bar_in_the_timeline_selects_that_span(
    page: Page, research_report: Path
) -> None:
    page.open(research_report)
    # The root run spans the whole timeline on the first lane, first row.
    box = page.page.locator("#canvas").bounding_box()
    assert box is not None
    page.page.mouse.click(box["x"] + box["width"] * 0.6, box["y"] + 22 + 20 + 9)
    assert page.page.locator("#details h3").first.inner_text() == "run research"
    assert page.labels("#tree-rows .selected .label") == ["run research"]


def test_the_filter_hides_what_does_not_match(page: Page, research_report: Path) -> None:
    page.open(research_report)
    box = page.page.locator("#filter")
    box.fill("status:error")
    matched = page.labels("#tree-rows [data-span]:not(.context) .label")
    context = page.labels("#tree-rows [data-span].context .label")
    assert matched == ["tool fetch"]
    assert context == ["run research", "turn 0"]
    assert page.page.locator("#filter-count").inner_text() == "1 of 14 spans"
    box.fill("kind:tool fetch")
    assert page.page.locator("#tree-rows [data-span]:not(.context)").count() == 3
    box.press("Escape")
    assert len(page.visible_spans()) == 14
    page.assert_clean(research_report)


def test_the_tree_is_keyboard_navigable(page: Page, research_report: Path) -> None:
    page.open(research_report)
    page.page.locator("#tree-rows [data-span]").first.click()
    page.page.keyboard.press("ArrowDown")
    assert page.page.locator("#details h3").first.inner_text() == "turn 0"
    page.page.keyboard.press("ArrowLeft")  # collapse turn 0
    assert len(page.visible_spans()) == 14 - 5  # its llm call and four tools
    page.page.keyboard.press("ArrowRight")
    assert len(page.visible_spans()) == 14
    page.page.keyboard.press("/")
    assert page.page.evaluate("document.activeElement.id") == "filter"


def test_dark_mode_follows_the_system_and_the_toggle(browser: Any, research_report: Path) -> None:
    p = browser.new_page()
    try:
        p.emulate_media(color_scheme="dark")
        page = Page(p)
        page.open(research_report)
        background = "getComputedStyle(document.body).backgroundColor"
        assert p.evaluate(background) == "rgb(15, 19, 26)"
        p.click("#theme")
        assert p.evaluate(background) == "rgb(246, 247, 249)"
        page.assert_clean(research_report)
    finally:
        p.close()


def demo_trace(folder: Path) -> Path:
    """The demo's trace, recorded off this thread (Playwright's sync API runs
    an event loop here, and the demo runs its own)."""
    from asynctrace._demo import run

    paths: list[Path] = []
    worker = threading.Thread(target=lambda: paths.append(run(trace_dir=folder).trace_path))
    worker.start()
    worker.join(timeout=120)
    assert paths, "the demo did not finish"
    return paths[0]


def test_the_demo_report_renders_and_is_kept_as_a_screenshot(page: Page, tmp_path: Path) -> None:
    report = write_report(demo_trace(tmp_path), tmp_path / "demo.html")
    page.open(report)
    page.assert_clean(report)
    page.page.locator("#tree-rows [data-span]", has_text="llm").first.click()
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report-demo.png"
    page.page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000


def test_a_100k_span_trace_shows_its_first_view_within_seconds(page: Page, tmp_path: Path) -> None:
    from _bigtrace import big_trace

    report = write_report(big_trace(tmp_path, spans=100_000), tmp_path / "big.html")
    seconds = page.open(report)
    assert seconds < FIRST_VIEW_LIMIT_S, f"first view took {seconds:.1f}s"
    stats = page.page.evaluate("window.asynctraceReport")
    assert stats["spans"] == 100_000
    # Virtualized: only the rows in view exist in the document.
    assert 10 < page.page.locator("#tree-rows .row").count() < 120
    # Still responsive: a filter over every span answers promptly.
    started = time.perf_counter()
    page.page.locator("#filter").fill("status:error")
    page.page.locator("#filter").press("Enter")
    page.page.wait_for_function("document.getElementById('filter-count').textContent !== ''")
    assert time.perf_counter() - started < FIRST_VIEW_LIMIT_S
    assert page.page.locator("#filter-count").inner_text().endswith("of 100000 spans")
    page.assert_clean(report)


def test_clicking_a_point_event_shows_its_fields(page: Page, research_report: Path) -> None:
    page.open(research_report)
    page.page.locator("#tree-rows [data-event]", has_text="decision").first.click()
    details = page.page.locator("#details")
    assert details.locator("h3").first.inner_text().startswith("decision plan → search_and_fetch")
    assert "need primary sources" in details.inner_text()
    assert details.locator("a.jump").first.inner_text() == "turn 0"  # its span, as a link
    page.page.keyboard.press("f")  # zoom the timeline to it
    page.assert_clean(research_report)


def test_captured_requests_get_their_own_section(page: Page, tmp_path: Path) -> None:
    from _tracegen import ROOT_TRACE, TraceFile

    t = TraceFile(ROOT_TRACE, label="captures")
    run = t.start("run", 0, name="captures")
    llm = t.start("llm", 1, run, name="gpt-x", model="gpt-x")
    t.emit("llm.request", 1.5, parent=llm, body={"messages": [{"role": "user", "content": "hi"}]})
    t.stop(llm, 3, name="gpt-x")
    t.stop(run, 4, name="captures")
    t.close(5)
    report = write_report(t.write(tmp_path), tmp_path / "captures.html")
    page.open(report)
    panel = page.page.locator("#captures-panel")
    assert panel.is_visible()
    capture = panel.locator("details[data-capture]")
    assert capture.count() == 1
    capture.locator("summary").click()
    assert '"content": "hi"' in capture.locator("pre").inner_text()
    page.assert_clean(report)
