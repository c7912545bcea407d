"""Vendored front-end files are the pinned, patched copies the README lists, and neither they
nor our own scripts parse data as HTML (issue 13: a step title must stay text)."""

import hashlib
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / "static" / "vendor"

# Sinks that parse a string as HTML (or write it into the document).
HTML_SINKS = re.compile(
    r"\.innerHTML\s*\+?=(?!=)|\.outerHTML\s*=(?!=)|insertAdjacentHTML|document\.write"
    r"|createContextualFragment|parseFromString|\.srcdoc\s*="
)


def test_vendored_files_match_the_hashes_in_the_readme():
    listed = re.findall(r"^([0-9a-f]{64})  (\S+)", (VENDOR / "README.md").read_text(), re.M)
    assert len(listed) == 6
    for digest, name in listed:
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name


def test_the_timeline_library_inserts_every_string_as_text():
    source = (VENDOR / "frappe-gantt" / "frappe-gantt.umd.js").read_text()

    assert HTML_SINKS.findall(source) == []
    # Its SVG helper turns an `innerHTML` option into text, so no caller can pass markup.
    assert 'i==="innerHTML"||i==="textContent"?e.textContent=t[i]' in source
    assert "textContent:this.task.name" in source


def test_the_chart_library_draws_labels_and_tooltips_on_its_canvas_only():
    # Chart.js renders labels, legends and tooltips with the canvas API: deal and step names
    # in the dashboard's charts never pass through an HTML parser.
    source = (VENDOR / "chartjs" / "chart.umd.min.js").read_text()

    assert HTML_SINKS.findall(source) == []
    assert "createElement(" not in source


def test_our_scripts_insert_data_as_text():
    offenders = [
        f"{path.name}: {match}"
        for path in (ROOT / "static" / "js").glob("*.js")
        for match in HTML_SINKS.findall(path.read_text())
    ]
    assert offenders == []
