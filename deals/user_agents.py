"""A user agent in a few words ("Firefox 128 on Linux"), for the security log's table. The
full header stays in the entry and in its CSV export; this is only what a person can read
at a glance, so it knows a handful of browsers and systems and otherwise shortens."""

from __future__ import annotations

import re

# Order matters: Edge and Opera also say "Chrome", Chrome also says "Safari".
_BROWSERS = [
    ("Edge", re.compile(r"\bEdg(?:e|A|iOS)?/(\d+)")),
    ("Opera", re.compile(r"\bOPR/(\d+)")),
    ("Firefox", re.compile(r"\b(?:Firefox|FxiOS)/(\d+)")),
    ("Headless Chrome", re.compile(r"\bHeadlessChrome/(\d+)")),
    ("Chrome", re.compile(r"\b(?:Chrome|CriOS)/(\d+)")),
    ("Safari", re.compile(r"\bVersion/(\d+)(?:[.\d]*) (?:Mobile/\S+ )?Safari/")),
]
_SYSTEMS = [
    ("iOS", re.compile(r"\biPhone\b")),
    ("iPadOS", re.compile(r"\biPad\b")),
    ("Android", re.compile(r"\bAndroid\b")),
    ("ChromeOS", re.compile(r"\bCrOS\b")),
    ("Windows", re.compile(r"\bWindows\b")),
    ("macOS", re.compile(r"\bMac OS X\b|\bMacintosh\b")),
    ("Linux", re.compile(r"\bLinux\b")),
]
SHORT = 40


def describe(user_agent: str) -> str:
    """ "Chrome 120 on Windows", or the header's first product ("curl/8.5.0"), shortened."""
    user_agent = user_agent.strip()
    if not user_agent:
        return ""
    browser = next(
        (
            f"{name} {m.group(1)}"
            for name, pattern in _BROWSERS
            if (m := pattern.search(user_agent))
        ),
        None,
    )
    system = next((name for name, pattern in _SYSTEMS if pattern.search(user_agent)), None)
    if not browser:
        first = user_agent.split()[0]
        browser = first if len(first) <= SHORT else first[: SHORT - 1] + "…"
    return f"{browser} on {system}" if system else browser
