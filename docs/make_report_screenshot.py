"""Make the README's report screenshot: run ``dfind A B -o DIR --report``, then photograph the page.

    python docs/make_report_screenshot.py                      # samples/a.png samples/b.png
    python docs/make_report_screenshot.py A B -- -m ssim -q otsu   # other inputs, other stages

Everything after ``--`` goes to ``dfind`` unchanged. The page is opened from the file system in
headless Chromium (Debian's ``chromium`` package, or the executable named by DFIND_CHROMIUM)
through Playwright, at 1400x900 CSS pixels in the light theme, and the top of the page (the
score cards and the six views) is written to ``docs/images/report.png``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def chromium() -> str:
    for candidate in (os.environ.get("DFIND_CHROMIUM"), shutil.which("chromium"), shutil.which("chromium-browser"),
                      shutil.which("google-chrome")):
        if candidate and Path(candidate).is_file():
            return candidate
    sys.exit("no Chromium found: apt-get install chromium, or set DFIND_CHROMIUM")


def main() -> None:
    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", nargs="?", default=str(ROOT / "samples" / "a.png"))
    parser.add_argument("b", nargs="?", default=str(ROOT / "samples" / "b.png"))
    parser.add_argument("--out", default=str(ROOT / "docs" / "images" / "report.png"))
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--height", type=int, default=900)
    parser.add_argument("--theme", choices=("light", "dark"), default="light")
    args = parser.parse_args(argv)

    from PIL import Image
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-c", "from dfcore.cli import main; main()", args.a, args.b, "-o", tmp,
                   "--report", *extra]
        print("dfind " + " ".join([args.a, args.b, "-o", "OUT", "--report", *extra]))
        subprocess.run(command, check=True)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": args.width, "height": args.height},
                                    color_scheme=args.theme, device_scale_factor=1)
            page.goto((Path(tmp) / "report.html").resolve().as_uri())
            page.wait_for_function("[...document.images].every(i => i.complete && i.naturalWidth > 0)")
            bottom = page.evaluate("document.querySelector('.panels').getBoundingClientRect().bottom")
            out = Path(args.out)
            out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(out), clip={"x": 0, "y": 0, "width": args.width, "height": bottom + 16},
                            full_page=True)
            browser.close()
    with Image.open(out) as image:
        image.load()
    image.convert("RGB").save(out, optimize=True)
    print(f"wrote {out} ({out.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
