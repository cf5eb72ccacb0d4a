"""Languages: every phrase catalogue matches the English one key for key, and a
routine written in Spanish, German or French renders with no English in it.

The routines in tests/languages/ use every step kind and feature (sides, sets,
counted holds, countdowns, breath holds, rests with the built-in reminders);
every line their cue script speaks, at every verbosity, is checked against the
English catalogue's phrases and the English number words, so a template that
speaks a literal English string fails here.
"""

from __future__ import annotations

import json
import re
import string
from pathlib import Path

import pytest
import yaml
from num2words import num2words

from matcue import phrases
from matcue.cuescript import StepMark
from matcue.errors import InputError
from matcue.limits import VERBOSITIES
from matcue.routine.steps import STEP_CLASSES
from matcue.source import build_script, load_source, resolve_settings
from matcue.speech.base import Voice
from matcue.speech.language import VoiceChoice, choose_voice, languages_of, pick_voice
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


def test_every_kind_whose_name_may_be_left_out_has_a_chapter_title():
    """A step left unnamed takes its chapter title from the catalogue
    (``chapter.KIND``): a new kind with a default name needs one, or rendering it
    would fail with a KeyError (docs/architecture.md, "add a step kind")."""
    english = _raw("en")["phrases"]
    unnamed = [k for k, cls in STEP_CLASSES.items() if cls.default_name is not None]
    assert unnamed  # say and transition at least
    assert [k for k in unnamed if f"chapter.{k}" not in english] == []


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
    # A turn-taking step names the side with its move, or alone with "now" once
    # its cues are short (the step keeps the default move word).
    assert any(cat.say(k, side="left") in spoken for k in ("side_named", "side_now"))
    assert cat.say("count", n=4) in spoken
    assert cat.say("chapter.say") in spoken
    assert cat.say("round", n=2) in spoken  # a flow's round, a rounds group's
    if verbosity != "minimal":
        assert cat.say("last_round") in spoken
    titles = [item.name for item in script.items if isinstance(item, StepMark)]
    in_round = cat.variants("round_step")[0].format(step="", n=3)
    assert any(t.endswith(in_round) for t in titles), titles


@pytest.mark.parametrize("code", TRANSLATIONS)
def test_extra_rounds_speak_the_language(code):
    """--minutes adds rounds of the main part: their names and lines come from the
    catalogue too."""
    longer = _script(code, "brief", minutes=40.0)  # about 12 minutes: scaling alone falls short
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


# ------------------------------------------------------------- the voice

SHORT_ES = """\
title: Respiración tranquila
language: es
steps:
  - kind: breath
    name: Respiración
    reps: 2
    cycle: 4
    cues:
      inhale: Inhala despacio.
      exhale: Exhala.
"""


def _pyttsx3_voice_languages(voice_id: str) -> set[str]:
    from matcue.speech import list_voices

    voices = {v.id: v for v in list_voices("pyttsx3")}
    return languages_of(voices[voice_id].languages)


def test_a_spanish_routine_renders_with_a_spanish_system_voice(tmp_path):
    """The real engine (pyttsx3: eSpeak here), nothing chosen: a Spanish voice speaks,
    and the tags and the transcript say which."""
    from matcue.pipeline import render

    routine = tmp_path / "calma.yaml"
    routine.write_text(SHORT_ES, encoding="utf-8")
    source = load_source(str(routine))
    settings = resolve_settings(source, {"format": "wav"})
    result = render(source, settings, tmp_path / "calma.wav")
    meta = result.timeline.meta
    assert meta["engine"] == "pyttsx3"
    assert _pyttsx3_voice_languages(meta["voice"]) == {"es"}
    assert f"voice: {meta['voice']}" in (tmp_path / "calma.vtt").read_text(encoding="utf-8")
    notice = [c for c in result.changes if "Spanish" in c]
    assert notice and "matcue voices add es_ES-davefx-medium" in notice[0], result.changes
    assert result.warnings == []
    assert 4 <= result.duration <= 40


@pytest.mark.parametrize("code", TRANSLATIONS)
def test_each_language_gets_a_system_voice_of_its_own(code):
    choice = choose_voice(code, "pyttsx3", None)
    assert choice.engine == "pyttsx3" and choice.voice is not None
    assert _pyttsx3_voice_languages(choice.voice) == {code}
    assert len(choice.notices) == 1 and choice.warnings == []


def test_english_chooses_as_before():
    assert choose_voice("en", "auto", None) == VoiceChoice("auto", None)


def test_auto_never_speaks_spanish_with_the_english_bundled_voice(monkeypatch):
    """Where piper runs but has no Spanish voice, auto falls back to the system's."""
    from matcue.speech import piper_models

    if not piper_models.bundled_available():
        pytest.skip("piper and the bundled voice are not installed")
    monkeypatch.delenv("MATCUE_ENGINE", raising=False)
    choice = choose_voice("es", "auto", None)
    assert choice.engine == "pyttsx3"
    assert choice.voice is not None and _pyttsx3_voice_languages(choice.voice) == {"es"}
    with pytest.raises(InputError, match="matcue voices add es_ES-davefx-medium"):
        choose_voice("es", "piper", None)


def test_an_installed_piper_voice_of_the_language_is_chosen(monkeypatch, tmp_path):
    """Choice only (no speech): a stand-in voice folder entry, a config naming es_ES
    beside an empty model file, is what `matcue voices add` leaves."""
    from matcue.speech import piper_models

    if not piper_models.bundled_available():
        pytest.skip("piper and the bundled voice are not installed")
    monkeypatch.delenv("MATCUE_ENGINE", raising=False)
    monkeypatch.setenv("MATCUE_VOICES_DIR", str(tmp_path))
    (tmp_path / "es_ES-standin-medium.onnx").write_bytes(b"")
    config = {"audio": {"sample_rate": 22050, "quality": "medium"}, "language": {"code": "es_ES"}}
    (tmp_path / "es_ES-standin-medium.onnx.json").write_text(json.dumps(config))
    choice = choose_voice("es", "auto", None)
    assert (choice.engine, choice.voice) == ("piper", "es_ES-standin-medium")
    # German has none: the system's German voice
    assert choose_voice("de", "auto", None).engine == "pyttsx3"


def test_a_chosen_voice_wins_and_one_of_another_language_is_warned_about():
    english = choose_voice("es", "pyttsx3", "gmw/en-us")
    assert (english.engine, english.voice) == ("pyttsx3", "gmw/en-us")
    assert len(english.warnings) == 1 and "Spanish" in english.warnings[0]
    assert "English" in english.warnings[0]
    latin = choose_voice("es", "pyttsx3", "roa/es-419")
    assert latin == VoiceChoice("pyttsx3", "roa/es-419")


def test_pick_voice_prefers_the_languages_own_country():
    voices = [
        Voice(id="roa/es-419", name="Spanish (Latin America)", languages=("es-419",)),
        Voice(id="roa/es", name="Spanish (Spain)", languages=("es",)),
        Voice(id="roa/fr-be", name="French (Belgium)", languages=("fr-be",)),
        Voice(id="roa/fr", name="French (France)", languages=("fr-fr",)),
    ]
    assert pick_voice(voices, "es").id == "roa/es"
    assert pick_voice(voices, "fr").id == "roa/fr"
    assert pick_voice(voices, "de") is None


def test_piper_without_a_voice_of_the_language_is_a_clear_error(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from matcue.cli import main
    from matcue.speech import piper_models

    if not piper_models.piper_installed():
        pytest.skip("piper is not installed")
    routine = tmp_path / "calma.yaml"
    routine.write_text(SHORT_ES, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["render", str(routine), "--engine", "piper"])
    assert result.exit_code == 2, result.output
    assert "piper has no Spanish voice" in result.output
    assert "matcue voices add es_ES-davefx-medium" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "calma.mp3").exists()


@pytest.mark.parametrize("doc", ["languages.md", "routine-format.md"])
def test_the_spanish_examples_in_the_docs_speak_no_english(doc, tmp_path):
    text = (HERE.parent / "docs" / doc).read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"```yaml\n(.*?)```", text, re.S) if "language: es" in b]
    assert blocks
    for i, block in enumerate(blocks):
        path = tmp_path / f"example{i}.yaml"
        path.write_text(block, encoding="utf-8")
        source = load_source(str(path))
        script, _ = build_script(source, resolve_settings(source, {}))
        lines = _spoken_and_titles(script)
        assert {line: english_in(line, "es") for line in lines if english_in(line, "es")} == {}
