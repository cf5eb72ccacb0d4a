"""Tests for the seven built-in routines in ``src/matcue/library``.

What they guard:

* every built-in loads through the real loader (``matcue.routine.load_builtin``) and
  carries the parts a session needs (title, safety line, intro/outro, setup and brief lines);
* the numbers taken from the seed articles survive at the model level (reps, holds,
  cycle lengths, sides, sets), so an edit that drifts from the source fails here;
* each anchored cue fits its window when spoken at a normal rate;
* the text is our own: no run of 8+ consecutive words shared with the seed articles, and
  none of the seeds' distinctive metaphors.

Timeline-level checks (real schedule lengths) live with the pipeline tests.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml

from matcue.routine import load_builtin

BUILTINS = ["thaw", "clutch", "retrain", "morning", "desk-break", "control", "articulate"]

# Where the seed articles live: the shared folder next to the checkout (see DESIGN.md),
# or MATCUE_SEEDS_DIR. They are source material, not part of the repository, so the
# own-words check skips where they are absent.
SEEDS_DIR = Path(
    os.environ.get("MATCUE_SEEDS_DIR", Path(__file__).resolve().parents[2] / "shared" / "seeds")
)

# A shared run this long means a copied phrase, not a coincidence of common words.
COPY_RUN = 8

# Spoken at 170 words per minute, a cue should take at most 85% of its window so it ends
# before the next cue is due: 170 / 60 * 0.85 ~= 2.4 words per second.
WORDS_PER_SECOND = 170 / 60 * 0.85

# Distinctive images from the seed articles that must not reappear in our text.
SEED_METAPHORS = [
    "winter freeze",
    "thaw",
    "stew",
    "retaining wall",
    "ripple",
    "pond",
    "current",
    "gust of wind",
    "dragging weather",
    "river",
    "blueprint",
    "simmer",
    "recipe",
    "clutch",
    "loyal",
    "overworked partner",
    "marathon",
]


# --- helpers -------------------------------------------------------------------------


def _value(x: Any) -> Any:
    """The plain value of an enum member, or ``x`` itself."""
    return getattr(x, "value", x)


def _kind(step: Any) -> str:
    return str(_value(step.kind))


def _step(routine: Any, name: str) -> Any:
    matches = [s for s in routine.steps if getattr(s, "name", None) == name]
    assert len(matches) == 1, f"{routine.name}: expected one step named {name!r}"
    return matches[0]


def _sides(step: Any) -> list[str]:
    sides = step.sides
    if sides is None:
        return []
    if _value(sides) == "both":
        return ["left", "right"]
    return [str(_value(s)) for s in sides]


def _seconds(duration: Any, routine: Any) -> float:
    """A Duration (or plain number of seconds) in seconds at the routine's defaults."""
    if isinstance(duration, (int, float)):
        return float(duration)
    unit = str(_value(duration.unit))
    if unit == "seconds":
        return float(duration.value)
    if unit == "breaths":
        return float(duration.value) * float(routine.defaults.breath)
    assert unit == "counts", unit
    return float(duration.value) * float(routine.defaults.count)


def _unit(duration: Any) -> str:
    return "seconds" if isinstance(duration, (int, float)) else str(_value(duration.unit))


def _cycle(step: Any, routine: Any) -> float:
    return float(step.cycle if step.cycle is not None else routine.defaults.breath)


def _cue(cues: Any, phase: str) -> list[str]:
    """Every phrasing of a phase's cue (a cue is one line or a list of phrasings)."""
    cue = cues.get(phase) if isinstance(cues, dict) else getattr(cues, phase, None)
    if not cue:
        return []
    return [cue] if isinstance(cue, str) else list(cue)


def _words(text: str) -> list[str]:
    """Lower-cased words with punctuation stripped ("it's" -> "its", "8-10" -> "8", "10")."""
    text = text.lower().replace("'", "").replace("\u2019", "")
    return re.findall(r"[a-z0-9]+", text)


def _runs(words: list[str], n: int = COPY_RUN) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def _strings(node: Any, key: str | None = None) -> Iterator[tuple[str | None, str]]:
    """Every string value in a parsed YAML document, with the key it sits under."""
    if isinstance(node, str):
        yield key, node
    elif isinstance(node, dict):
        for k, v in node.items():
            yield from _strings(v, str(k))
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item, key)


def _routine_texts(text: str) -> list[str]:
    """The prose of a routine file: its string values and its comment lines."""
    texts = [value for _, value in _strings(yaml.safe_load(text))]
    texts += [line.strip()[1:] for line in text.splitlines() if line.strip().startswith("#")]
    return texts


def _copied_runs(texts: list[str], seed_runs: set[tuple[str, ...]]) -> list[str]:
    """Each text (checked one sentence at a time) that shares a COPY_RUN-word run."""
    found = []
    for text in texts:
        for sentence in re.split(r"(?<=[.!?;:])\s+", text):
            shared = _runs(_words(sentence)) & seed_runs
            if shared:
                found.append(f"{sentence!r} shares {' '.join(sorted(shared)[0])!r}")
    return found


def _library_file(name: str) -> str:
    return resources.files("matcue.library").joinpath(f"{name}.yaml").read_text("utf-8")


@pytest.fixture(scope="module")
def seed_texts() -> list[str]:
    files = sorted(SEEDS_DIR.glob("*.txt")) if SEEDS_DIR.is_dir() else []
    if not files:
        pytest.skip(f"seed articles not found in {SEEDS_DIR} (set MATCUE_SEEDS_DIR)")
    return [f.read_text("utf-8") for f in files]


@pytest.fixture(scope="module")
def seed_runs(seed_texts: list[str]) -> set[tuple[str, ...]]:
    runs: set[tuple[str, ...]] = set()
    for text in seed_texts:
        runs |= _runs(_words(text))
    return runs


# --- every built-in ------------------------------------------------------------------


def test_library_holds_exactly_the_seven_builtins() -> None:
    files = {
        p.name[: -len(".yaml")]
        for p in resources.files("matcue.library").iterdir()
        if p.name.endswith(".yaml")
    }
    assert files == set(BUILTINS)


@pytest.mark.parametrize("name", BUILTINS)
def test_builtin_loads_with_the_parts_a_session_needs(name: str) -> None:
    routine = load_builtin(name)
    assert routine.name == name
    assert routine.title.strip()
    assert routine.summary.strip()
    assert re.match(r"Based on seed article 00[0-4]: \S", routine.source)
    assert routine.safety and "stop" in routine.safety.lower()
    for word in ("pain", "tingling", "heaviness"):
        assert word in routine.safety.lower()
    assert 1 <= len(routine.intro) <= 2
    assert 1 <= len(routine.outro) <= 2
    names = [getattr(s, "name", None) for s in routine.steps]
    assert routine.main, "main should name the steps --minutes repeats"
    for main_name in routine.main:
        assert main_name in names
    for step in routine.steps:
        kind = _kind(step)
        if kind in ("breath", "hold", "reps", "rest"):
            assert step.setup, f"{name}: {step.name} has no setup"
            assert step.brief, f"{name}: {step.name} has no brief line"
        if kind == "transition":
            assert step.text, f"{name}: transition without text"
            # The name is spoken at the step start; a bare "Transition." tells the listener nothing.
            assert step.name != "Transition", f"{name}: give the transition a spoken name"


@pytest.mark.parametrize("name", BUILTINS)
def test_anchored_cues_fit_their_windows(name: str) -> None:
    """A cue spoken at ~170 wpm ends inside its phase, before the next cue is due."""
    routine = load_builtin(name)
    too_long = []
    for step in routine.steps:
        kind = _kind(step)
        if kind == "breath":
            moving = _cycle(step, routine) - step.hold_in - step.hold_out
            windows = {
                "inhale": moving * step.split,
                "exhale": moving * (1 - step.split),
                "hold_in": step.hold_in,
                "hold_out": step.hold_out,
            }
        elif kind == "reps":
            windows = {
                phase: _seconds(getattr(step, phase), routine)
                for phase in ("move", "hold", "release", "rest")
            }
        else:
            continue
        for phase, seconds in windows.items():
            for cue in _cue(step.cues, phase):
                if len(_words(cue)) > seconds * WORDS_PER_SECOND:
                    too_long.append(f"{step.name}.{phase}: {cue!r} in {seconds:g} s")
        # A refinement cue takes the roomiest window (it needs 3 s or more, see variety.py).
        room = max(windows.values())
        for cue in step.refine:
            if len(_words(cue)) > room * WORDS_PER_SECOND:
                too_long.append(f"{step.name}.refine: {cue!r} in {room:g} s")
    assert not too_long


# --- the seed numbers, at the model level --------------------------------------------


def test_thaw_carries_seed_000_numbers() -> None:
    routine = load_builtin("thaw")
    assert 10 <= routine.defaults.breath <= 12

    catcow = _step(routine, "Mid-back Cat and Cow")
    assert _kind(catcow) == "breath"
    assert 8 <= catcow.reps <= 10
    assert list(catcow.reps_range) == [8, 10]

    lunge = _step(routine, "Low lunge")
    assert _kind(lunge) == "hold"
    assert (_unit(lunge.duration), lunge.duration.value) == ("breaths", 6)
    assert _sides(lunge) == ["left", "right"]
    before = routine.steps[routine.steps.index(lunge) - 1]
    assert _kind(before) == "transition"

    locust = _step(routine, "Easy Locust")
    assert _kind(locust) == "reps"
    assert locust.reps == 5 and locust.sets == 1
    assert (_unit(locust.hold), locust.hold.value) == ("counts", 3)


def test_clutch_carries_seed_001_numbers() -> None:
    routine = load_builtin("clutch")
    kinds = [_kind(s) for s in routine.steps]
    assert kinds[0] in ("rest", "hold")  # constructive rest comes first
    assert routine.steps[0].reminders if kinds[0] == "rest" else routine.steps[0].cues

    catcow = _step(routine, "Slow Cat and Cow")
    assert _kind(catcow) == "breath"
    # the 15 s cycle is the routine's own breath, so --breath and --pace change it
    assert catcow.cycle is None and routine.defaults.breath == 15
    assert _cycle(catcow, routine) == 15
    assert 6 <= catcow.reps <= 8

    final = routine.steps[-1]
    assert _kind(final) == "rest"
    assert _seconds(final.duration, routine) >= 120  # "a few minutes"
    setup = (
        " ".join(final.setup).lower()
        + " "
        + " ".join(s.text or "" for s in routine.steps if _kind(s) == "transition").lower()
    )
    assert "bolster" in setup and "blanket" in setup and "knees" in setup


def test_retrain_carries_seed_002_numbers() -> None:
    routine = load_builtin("retrain")
    tilts = _step(routine, "Pelvic tilts")
    assert _kind(tilts) == "reps"
    assert tilts.reps == 10 and tilts.sets == 1
    assert _unit(tilts.hold) == "seconds" and _seconds(tilts.hold, routine) == 3
    assert "out" in _words(tilts.cues.move[0])  # the tilt happens on the exhale

    catcow = _step(routine, "Breath-led Cat-Cow")
    assert _kind(catcow) == "breath"
    assert _value(catcow.start) == "inhale"
    assert "arch" in _words(catcow.cues.inhale[0])
    assert "round" in _words(catcow.cues.exhale[0])

    hinges = _step(routine, "Seated hip hinges")
    assert _kind(hinges) == "reps"
    assert "heels" in _words(hinges.cues.release[0])


def test_morning_carries_seed_002_daily_routine() -> None:
    routine = load_builtin("morning")
    tilts = _step(routine, "Pelvic tilts")
    assert _kind(tilts) == "reps"
    per_rep = sum(_seconds(getattr(tilts, p), routine) for p in ("move", "hold", "release", "rest"))
    total = per_rep * tilts.reps * tilts.sets + _seconds(tilts.set_rest, routine) * (tilts.sets - 1)
    assert 285 <= total <= 315, f"tilts last {total:g} s, not about five minutes"

    hinges = _step(routine, "Seated hip hinges")
    assert _kind(hinges) == "reps"
    assert hinges.sets == 3
    assert [s.name for s in routine.steps if _kind(s) == "reps"] == [
        "Pelvic tilts",
        "Seated hip hinges",
    ]


def test_desk_break_is_two_minutes_of_cat_cow() -> None:
    routine = load_builtin("desk-break")
    breath = [s for s in routine.steps if _kind(s) == "breath"]
    assert len(breath) == 1
    assert breath[0].reps * _cycle(breath[0], routine) == 120
    assert all(len(_words(line)) <= 12 for line in routine.intro + routine.outro)


def test_control_covers_seed_003_movements() -> None:
    routine = load_builtin("control")
    assert _kind(_step(routine, "Belly breathing")) == "breath"
    assert _kind(_step(routine, "Cat-camel")) == "breath"
    hinge = _step(routine, "Hip hinge with a pause")
    assert _kind(hinge) == "reps" and _seconds(hinge.hold, routine) > 0
    for name in ("Seated side bends", "Knee to chest", "Side-lying reach"):
        step = _step(routine, name)
        assert _kind(step) == "reps"
        assert _sides(step) == ["left", "right"]
    reach_setup = " ".join(_step(routine, "Side-lying reach").setup).lower()
    assert "pillow" in reach_setup and "towel" in reach_setup


def test_control_knee_to_chest_alternates_legs_rep_by_rep() -> None:
    """Seed 003: draw one knee in, return with control and switch sides, each rep.
    The timeline reads back left, right, left, right ... five of each, with the
    side named in each rep's first cue."""
    from matcue.pipeline import build_script, load_source, resolve_settings
    from matcue.schedule import schedule

    src = load_source("control")
    script, _ = build_script(src, resolve_settings(src, {}))
    plan = schedule(
        script, sample_rate=8000, speech_length=lambda t: 4000, sound_length=lambda n: 8000
    )
    moves = [
        e
        for e in plan.timeline.events
        if e.step == "Knee to chest" and e.kind == "phase" and e.phase == "move"
    ]
    assert [e.side for e in moves] == ["left", "right"] * 5
    assert [e.rep for e in moves] == [r for r in range(1, 6) for _ in (0, 1)]
    said = [
        e.text
        for e in plan.timeline.events
        if e.step == "Knee to chest" and e.kind == "speech" and e.phase == "move"
    ]
    sides = [re.search(r"\b(Left|Right) side\b", t) for t in said]
    assert [m.group(1) if m else None for m in sides] == ["Left", "Right"] * 5


def test_articulate_covers_seed_004_techniques() -> None:
    routine = load_builtin("articulate")
    glide = _step(routine, "Banded spine glide")
    assert _kind(glide) == "reps"
    assert "band" in " ".join(glide.setup).lower()
    iso = _step(routine, "Opposite-side isometrics")
    assert _kind(iso) == "reps"
    assert _unit(iso.hold) == "counts" and iso.hold.value > 0
    assert _sides(iso) == ["left", "right"]
    circuit = [s.name for s in routine.steps if s.name and s.name.startswith("Circuit")]
    assert len(circuit) == 3
    assert set(circuit) <= set(routine.main)


# --- our own words -------------------------------------------------------------------


@pytest.mark.parametrize("name", BUILTINS)
def test_no_run_of_eight_words_from_the_seeds(name: str, seed_runs: set) -> None:
    assert not _copied_runs(_routine_texts(_library_file(name)), seed_runs)


def test_copy_check_catches_a_copied_sentence(seed_texts: list[str], seed_runs: set) -> None:
    """The check is not vacuous: a seed sentence pasted into a fake routine is flagged."""
    sentence = next(s for s in re.split(r"(?<=[.!?])\s+", seed_texts[0]) if len(_words(s)) >= 12)
    fake = yaml.safe_dump({"title": "Fake", "intro": ["Welcome.", f"Now: {sentence}"]})
    assert _copied_runs(_routine_texts(fake), seed_runs)
    reworded = yaml.safe_dump({"title": "Fake", "intro": ["Welcome, lie down and rest."]})
    assert not _copied_runs(_routine_texts(reworded), seed_runs)


@pytest.mark.parametrize("name", BUILTINS)
def test_no_seed_metaphors(name: str) -> None:
    document = yaml.safe_load(_library_file(name))
    del document["name"]  # the routine ids are given (one of them is "thaw"); never spoken
    spoken = " ".join(v for _, v in _strings(document)).lower()
    found = [m for m in SEED_METAPHORS if re.search(rf"\b{m}", spoken)]
    assert not found
