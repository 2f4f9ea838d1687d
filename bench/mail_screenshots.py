"""Screenshots of every kind of mail on its page, to check the rendering by eye.

Makes the demo archive (it has threads), imports an HTML mail with an inline image, an
HTML-only mail, hostile HTML, a patch, a Japanese (ISO-2022-JP) message, a forwarded
message and a uuencoded file into it, builds it, serves the site on a local port and saves
PNGs of their pages (desktop width, and the HTML mail on a phone) in the folder given.

    .venv/bin/python bench/mail_screenshots.py /work/brief/shots

Needs Debian's chromium and the playwright package, as tests/test_browser.py does.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
EDGE = Path("/work/shared/corpus/edge/messages")
MAIL = REPO / "tests" / "mail"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
# (name of the PNG, the file to import, its Message-ID, open the <details> first)
SHOTS = [
    (
        "html-alternative",
        MAIL / "usrp-inline-image.eml",
        "25698_1588745513_5EB25529_25698_118_1_AD065CF42EAFA14D8B2A641BCA414A3550F0A8CE"
        "@OPEXCAUBM21.corporate.adroot.infra.ftgroup",
        True,
    ),
    ("html-only", MAIL / "html-only.eml", "htmlonly@example.org", False),
    ("hostile-html", MAIL / "hostile-html.eml", "hostile@example.org", False),
    ("patch", EDGE / "public-inbox-data-0001-patch.eml", "20180720072141.GA15957@example", False),
    (
        "japanese",
        EDGE / "public-inbox-iso-2202-jp.eml",
        "199707281508.AAA24167@hoyogw.example",
        False,
    ),
    ("forwarded", MAIL / "forwarded-encoded-words.eml", "fwd@example.org", False),
    ("uuencoded", MAIL / "uuencoded.eml", "uu1@example.org", False),
]


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def piperarc(*args: str | Path) -> str:
    command = [str(Path(sys.executable).with_name("piperarc")), *map(str, args)]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("out", type=Path, help="where the PNGs go")
    out: Path = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "demo"
        piperarc("demo", root)
        list_name = json.loads(piperarc("stats", "--archive", root, "--json"))["lists"]
        name = next(iter(list_name))
        for _, path, _, _ in SHOTS:
            piperarc("import", "--archive", root, "--list", name, path)
        piperarc("build", "--archive", root)
        urls = {
            shot: json.loads(
                piperarc("show", "--archive", root, "--list", name, "--json", "--", mid)
            )["url"]
            for shot, _, mid, _ in SHOTS
        }
        # The demo's longest thread.
        threads = sorted(
            (root / "site" / name / "t").glob("*.html"), key=lambda p: p.stat().st_size
        )
        urls["thread"] = str(threads[-1].relative_to(root / "site"))
        handler = functools.partial(_Quiet, directory=str(root / "site"))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_address[1]}/"
        opened = {shot for shot, _, _, open_details in SHOTS if open_details}
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
                for shot, url in urls.items():
                    sizes = [("", 1280, 900)]
                    if shot in ("html-alternative", "thread"):
                        sizes.append(("-phone", 375, 812))
                    for suffix, width, height in sizes:
                        context = browser.new_context(viewport={"width": width, "height": height})
                        page = context.new_page()
                        page.goto(base + url)
                        if shot in opened:
                            page.eval_on_selector_all(
                                "details", "ds => ds.forEach(d => d.open = true)"
                            )
                        page.screenshot(path=str(out / f"{shot}{suffix}.png"), full_page=True)
                        context.close()
                        print(out / f"{shot}{suffix}.png", url)
                browser.close()
        finally:
            server.shutdown()
            server.server_close()


if __name__ == "__main__":
    main()
