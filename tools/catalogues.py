"""Keep the translation catalogues in step with the code.

`python tools/catalogues.py update`: extract messages, update both catalogues and fill the
English one (its msgids are English, so each entry translates to itself).
`python tools/catalogues.py compile`: write the .mo files (make does this before run and test).
`python tools/catalogues.py merge zh new.json`: set translations from a {msgid: msgstr} file.
`python tools/catalogues.py check`: exit 1 listing any message without a translation.
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "service_app" / "translations"
POT = TRANSLATIONS / "messages.pot"
LOCALES = ("zh", "en")  # zh serves zh_CN (Babel parses it as zh_Hans_CN, which falls back to zh)


def catalogue_path(locale: str) -> Path:
    """Where a locale's .po file lives."""
    return TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po"


def pybabel(*args: str) -> None:
    """Run a pybabel command in this process."""
    CommandLineInterface().run(["pybabel", "-q", *args])


def compile_catalogues() -> None:
    """Write the .mo files the app loads."""
    pybabel("compile", "-d", str(TRANSLATIONS))


def extract() -> None:
    """Write messages.pot from the code and templates."""
    pybabel(
        "extract",
        "-F",
        str(ROOT / "babel.cfg"),
        "-k",
        "_l",
        "-k",
        "lazy_gettext",
        "-o",
        str(POT),
        "--no-location",
        "--sort-output",
        "--project",
        "service_app",
        str(ROOT),
    )


def update() -> None:
    """Merge messages.pot into each catalogue and fill English with its msgids."""
    extract()
    for locale in LOCALES:
        pybabel(
            "update",
            "-i",
            str(POT),
            "-d",
            str(TRANSLATIONS),
            "-l",
            locale,
            "--no-fuzzy-matching",
            "--ignore-obsolete",
        )
    for locale in LOCALES:
        path = catalogue_path(locale)
        with path.open("rb") as handle:
            catalogue = read_po(handle, locale=locale)
        catalogue.fuzzy = False  # the header only; entries are never fuzzy (no fuzzy matching)
        catalogue.project, catalogue.version = "service_app", "1"
        if locale == "en":  # English msgids translate to themselves
            for message in catalogue:
                if message.id and not message.string:
                    message.string = message.id
        with path.open("wb") as handle:
            write_po(handle, catalogue, sort_output=True, no_location=True)


def missing(locale: str) -> list[str]:
    """Messages of the code that the locale's catalogue does not translate."""
    with catalogue_path(locale).open("rb") as handle:
        catalogue = read_po(handle, locale=locale)
    with POT.open("rb") as handle:
        template = read_po(handle)
    gaps = []
    for message in template:
        if not message.id:
            continue
        entry = catalogue.get(message.id)
        strings = entry.string if entry else None
        if not entry or not strings or (isinstance(strings, tuple) and not all(strings)) or entry.fuzzy:
            gaps.append(str(message.id))
    return gaps


def merge(locale: str, translations: dict[str, str]) -> None:
    """Set translations (msgid → msgstr) in a catalogue, e.g. from a JSON file."""
    path = catalogue_path(locale)
    with path.open("rb") as handle:
        catalogue = read_po(handle, locale=locale)
    for message_id, text in translations.items():
        if message_id in catalogue:
            catalogue[message_id].string = text
        else:
            print(f"{locale}: not in the catalogue, skipped: {message_id}")
    with path.open("wb") as handle:
        write_po(handle, catalogue, sort_output=True, no_location=True)


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "check"
    if command == "update":
        update()
        return 0
    if command == "merge":  # merge LOCALE FILE.json
        import json

        merge(argv[2], json.loads(Path(argv[3]).read_text(encoding="utf-8")))
        return 0
    if command == "compile":
        compile_catalogues()
        return 0
    extract()
    status = 0
    for locale in LOCALES:
        for message_id in missing(locale):
            print(f"{locale}: untranslated: {message_id}")
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
