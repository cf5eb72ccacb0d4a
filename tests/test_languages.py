"""Languages: every phrase catalogue matches the English one key for key, and a
routine written in Spanish, German or French renders with no English in it.

The routines in tests/languages/ use every step kind and feature (sides, sets,
counted holds, countdowns, breath holds, rests with the built-in reminders);
every line their cue script speaks, at every verbosity, is checked against the
English catalogue's phrases and the English number words, so a template that
speaks a literal English string fails here.
"""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest
import yaml
from num2words import num2words

from matcue import phrases
from matcue.cuescript import StepMark
from matcue.limits import VERBOSITIES
from matcue.source import build_script, load_source, resolve_settings
from matcue.templating import template_dirs

HERE = Path(__file__).parent
ROUTINES = HERE / "languages"
TRANSLATIONS = [code for code in phrases.available() if code != phrases.REFERENCE]
FORMAT_SPECS = {"", "f", "lower"}
COGNATES = {"fr": {"transition"}}
"""English phrases that are words of the language too (French "Transition")."""


def _raw(code: str) -> dict:
    path = Path(phrases.__file__).with_name(f"{code}.yaml")
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _fields(text: str) -> set[tuple[str, str]]:
    return {(f, spec or "") for _, f, spec, _ in string.Formatter().parse(text) if f}


def test_the_four_languages_ship():
    assert set(phrases.available()) >= {"en", "es", "de", "fr"}


@pytest.mark.parametrize("code", TRANSLATIONS)
def test_a_catalogue_has_exactly_the_english_keys_in_order(code):
    english = list(_raw("en")["phrases"])
    keys = list(_raw(code)["phrases"])
    assert set(keys) - set(english) == set(), "keys English does not have"
    assert set(english) - set(keys) == set(), "keys to translate"
    assert keys == english, "keep the keys in en.yaml's order"


@pytest.mark.parametrize("code", TRANSLATIONS)
def test_a_catalogue_names_itself_and_speaks_its_numbers(code):
    data = _raw(code)
    assert data["language"] == code
    assert data["name"].strip()
    cat = phrases.catalogue(code)
    # num2words knows the language: its words are not the English ones
    assert cat.word(3) == num2words(3, lang=code) != num2words(3, lang="en")


@pytest.mark.parametrize("code", TRANSLATIONS)
def test_every_phrase_is_non_empty_with_the_english_placeholders(code):
    english = phrases.catalogue("en")
    cat = phrases.catalogue(code)
    for key in english.phrases:
        wanted = {name for text in english.variants(key) for name in phrases.placeholders(text)}
        for text in cat.variants(key):
            assert text.strip(), f"{code}: {key} is empty"
            assert phrases.placeholders(text) == wanted, f"{code}: {key}: {text!r}"
            specs = {spec for _, spec in _fields(text)}
            assert specs <= FORMAT_SPECS, f"{code}: {key}: unknown format {specs}"


@pytest.mark.parametrize("code", phrases.available())
def test_every_phrase_fills_in(code):
    cat = phrases.catalogue(code)
    for key in cat.phrases:
        for turn in range(len(cat.variants(key))):
            said = cat.say(key, turn, n=21, side="right", step="Cat")
            assert "{" not in said and said.strip(), f"{code}: {key}"


def test_feminine_numbers_agree():
    assert "veintiuna respiraciones" in phrases.catalogue("es").say("breaths_left", n=21)
    assert "vingt et une respirations" in phrases.catalogue("fr").say("breaths_left", n=21)
    assert "Quedan tres" in phrases.catalogue("es").say("breaths_left", n=3)


# ------------------------------------------------------------- no English


def _english_patterns() -> list[re.Pattern[str]]:
    """Every fixed part of every English phrase, and the English number words."""
    english = phrases.catalogue("en")
    parts: set[str] = set()
    for key in english.phrases:
        for text in english.variants(key):
            for literal, *_ in string.Formatter().parse(text):
                part = literal.strip(" .,;:!?")
                if any(ch.isalpha() for ch in part):
                    parts.add(part.lower())
    found = [re.compile(rf"(?<!\w){re.escape(p)}(?!\w)", re.IGNORECASE) for p in sorted(parts)]
    return found


def _number_words(code: str) -> set[str]:
    return {w for n in range(0, 101) for w in re.findall(r"\w+", num2words(n, lang=code).lower())}


def english_in(line: str, code: str) -> list[str]:
    """The English phrases and number words in ``line`` (a number word that is also
    one of the language's own, French "six", is not English there)."""
    found = [
        p.pattern
        for p in _english_patterns()
        if (m := p.search(line)) and m.group(0).lower() not in COGNATES.get(code, set())
    ]
    own = _number_words(code)
    words = set(re.findall(r"\w+", line.lower()))
    found += sorted((words & _number_words("en")) - own)
    return found


def _script(code: str, verbosity: str, **settings):
    """The cue script of tests/languages/CODE.yaml, as `matcue script` makes it."""
    source = load_source(str(ROUTINES / f"{code}.yaml"))
    assert source.routine is not None and source.routine.language == code
    script, _changes = build_script(
        source, resolve_settings(source, {"verbosity": verbosity, **settings})
    )
    return script


def _spoken_and_titles(script) -> list[str]:
    titles = [item.name for item in script.items if isinstance(item, StepMark)]
    return [*script.phrases(), *titles]


def test_the_check_finds_english():
    assert english_in("Switch to the right side.", "es")
    assert english_in("Cambia al lado derecho. Hold.", "es")
    assert english_in("Three.", "fr")
    assert english_in("Get ready for set dos.", "es")
    assert not english_in("Six. Restez ici, en respirant tranquillement.", "fr")
    assert not english_in("Cambia al lado derecho.", "es")


@pytest.mark.parametrize("verbosity", VERBOSITIES)
@pytest.mark.parametrize("code", TRANSLATIONS)
def test_a_routine_in_another_language_speaks_no_english(code, verbosity):
    script = _script(code, verbosity)
    lines = _spoken_and_titles(script)
    english = {line: english_in(line, code) for line in lines}
    assert {k: v for k, v in english.items() if v} == {}
    cat = phrases.catalogue(code)
    spoken = "\n".join(lines)
    # the catalogue's phrases are what is said: the built-in ones the routine uses
    if verbosity != "minimal":
        assert cat.say("begin_side", side="left") in spoken
        assert cat.say("rest_reminders", turn=0) in spoken
        assert cat.say("next_set", n=2) in spoken
        assert cat.say("first_breath_in") in spoken
    else:
        assert cat.say("still_resting") in spoken
        assert cat.say("set_short", n=2) in spoken
        assert cat.say("breaths_left_short", n=3) in spoken
    assert cat.say("switch_side", side="right") in spoken
    assert cat.say("side_named", side="left") in spoken
    assert cat.say("count", n=4) in spoken
    assert cat.say("chapter.say") in spoken


@pytest.mark.parametrize("code", TRANSLATIONS)
def test_extra_rounds_speak_the_language(code):
    """--minutes adds rounds of the main part: their names and lines come from the
    catalogue too."""
    longer = _script(code, "brief", minutes=30.0)  # about 9 minutes: scaling alone falls short
    cat = phrases.catalogue(code)
    lines = _spoken_and_titles(longer)
    assert cat.say("round_title", n="2") in lines
    english = {line: english_in(line, code) for line in lines}
    assert {k: v for k, v in english.items() if v} == {}


def test_a_literal_english_line_in_a_template_is_caught(tmp_path):
    """The check above can fail: a template that speaks English text of its own."""
    builtin = template_dirs()[-1]
    text = (builtin / "kind_rest.cue.j2").read_text(encoding="utf-8")
    (tmp_path / "kind_rest.cue.j2").write_text(
        text.replace('say("still_resting")', '"Still resting."'), encoding="utf-8"
    )
    script = _script("es", "minimal", templates=tmp_path)
    assert any(english_in(line, "es") for line in script.phrases())
