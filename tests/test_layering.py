"""The code's own rules of imports (pyproject.toml): an import inside a function says why on
its line; the apps depend one way and no two modules of an app import each other
(import-linter's contracts, run here as in CI)."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APP_CODE = ["config", "deals", "stakeholders", "plans", "notifications", "deploy", "manage.py"]
NOQA = re.compile(r"#\s*noqa:[^#]*\bPLC0415\b(?P<rest>.*)$")


def _app_files():
    for name in APP_CODE:
        path = ROOT / name
        yield from [path] if path.is_file() else sorted(path.rglob("*.py"))


def test_every_function_level_import_says_why():
    silent = []
    for path in _app_files():
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            match = NOQA.search(line)
            if match and not re.match(r"\s*-\s*\S", match["rest"]):
                silent.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not silent, "say why after `# noqa: PLC0415 - `:\n" + "\n".join(silent)


def test_the_reason_check_finds_a_silent_noqa():
    assert NOQA.search("    from . import tasks  # noqa: PLC0415")["rest"] == ""
    assert NOQA.search("    from . import tasks  # noqa: PLC0415 - cycle")["rest"] == " - cycle"


def test_apps_depend_one_way_and_no_modules_import_each_other():
    result = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:]
