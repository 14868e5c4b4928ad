"""The app's JavaScript messages: extract every t("...") of frontend/static/frontend/app/*.js into djangojs.po.

    python frontend/tools/messages.py          # update frontend/locale/*/LC_MESSAGES/djangojs.po (keeps translations)
    python frontend/tools/messages.py --check  # exit 1 if a message has no translation (used by the tests)

Django's makemessages does not know the app's `t()` helper, so this small extractor does the same job for the
djangojs domain; the template and Python messages (django.po) still come from `manage.py makemessages`.
Compile with msgfmt (scripts/build-frontend.sh); the server reads only the .mo files.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

FRONTEND = Path(__file__).resolve().parent.parent
SOURCES = sorted((FRONTEND / "static" / "frontend" / "app").glob("*.js"))
LOCALES = FRONTEND / "locale"
CALL = re.compile(r'\bt\(\s*"((?:[^"\\\n]|\\.)*)"')
HEADER = '''# Moira workers' app: JavaScript messages ({language}).
msgid ""
msgstr ""
"Project-Id-Version: moira\\n"
"Language: {language}\\n"
"MIME-Version: 1.0\\n"
"Content-Type: text/plain; charset=UTF-8\\n"
"Content-Transfer-Encoding: 8bit\\n"
"Plural-Forms: {plural}\\n"
'''
PLURALS = {"ja": "nplurals=1; plural=0;", "en": "nplurals=2; plural=(n != 1);"}


def extract() -> dict[str, list[str]]:
    """msgid -> ["file:line", ...] in order of first appearance."""
    found: dict[str, list[str]] = {}
    for path in SOURCES:
        text = path.read_text(encoding="utf-8")
        for match in CALL.finditer(text):
            msgid = ast.literal_eval(f'"{match.group(1)}"')
            line = text.count("\n", 0, match.start()) + 1
            found.setdefault(msgid, []).append(f"{path.relative_to(FRONTEND)}:{line}")
    return found


def _unquote(chunks: list[str]) -> str:
    return "".join(ast.literal_eval(chunk) for chunk in chunks)


def read_po(path: Path) -> dict[str, str]:
    """msgid -> msgstr of a .po file written by this tool or by msgmerge (no plurals, no contexts)."""
    entries: dict[str, str] = {}
    if not path.exists():
        return entries
    msgid: list[str] | None = None
    msgstr: list[str] | None = None
    current: list[str] | None = None

    def flush():
        if msgid is not None and msgstr is not None:
            entries[_unquote(msgid)] = _unquote(msgstr)

    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line.startswith("msgid "):
            flush()
            msgid, msgstr = [line[6:]], None
            current = msgid
        elif line.startswith("msgstr "):
            msgstr = [line[7:]]
            current = msgstr
        elif line.startswith('"') and current is not None:
            current.append(line)
        elif not line:
            current = None
    flush()
    entries.pop("", None)
    return entries


def quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def write_po(path: Path, language: str, messages: dict[str, list[str]], translations: dict[str, str]) -> None:
    lines = [HEADER.format(language=language, plural=PLURALS.get(language, PLURALS["en"]))]
    for msgid, where in messages.items():
        lines.append(f"#: {' '.join(where[:3])}")
        lines.append(f"msgid {quote(msgid)}")
        lines.append(f"msgstr {quote(translations.get(msgid, ''))}\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines), encoding="utf-8")


def untranslated(language: str = "ja") -> list[str]:
    translations = read_po(LOCALES / language / "LC_MESSAGES" / "djangojs.po")
    return [msgid for msgid in extract() if not translations.get(msgid)]


def main(argv: list[str]) -> int:
    if "--check" in argv:
        missing = untranslated()
        for msgid in missing:
            sys.stderr.write(f"untranslated: {msgid}\n")
        return 1 if missing else 0
    messages = extract()
    for language_dir in sorted(p for p in LOCALES.iterdir() if p.is_dir()):
        po = language_dir / "LC_MESSAGES" / "djangojs.po"
        write_po(po, language_dir.name, messages, read_po(po))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
