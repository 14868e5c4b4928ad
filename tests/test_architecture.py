"""Domain maths stays free of Django so that it can be read and tested on its own."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PURE_MODULES = ["lots/calc.py", "lots/codes.py", "lots/catalogue.py", "audit/chain.py", "moira/units.py", "crawler/pw3360.py"]
FORBIDDEN = ("django", "rest_framework", "celery")


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("module", PURE_MODULES + [p for p in ["power/calc.py"] if (ROOT / p).exists()])
def test_pure_modules_import_no_framework(module):
    offenders = {name for name in imported_modules(ROOT / module) if name.split(".")[0] in FORBIDDEN}
    assert not offenders, f"{module} imports {offenders}"


def test_crawler_never_imports_the_server():
    crawler = ROOT / "crawler"
    for path in crawler.rglob("*.py"):
        offenders = {n for n in imported_modules(path) if n.split(".")[0] in (*FORBIDDEN, "lots", "power", "plants", "moira", "audit")}
        assert not offenders, f"{path} imports {offenders}"
