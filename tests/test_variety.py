"""Variety instead of repetition (issue 12, items 3 and 4).

At default settings no built-in speaks a sentence of three or more words more
than 8 times, or in more than 3 consecutive reps of a step. The check reads
the cue-script text alone (parsed with matcue.cuescript): a rep is a run of
``@block``s of one step with the same set and rep (the sides of a
turn-taking rep are one rep). The other tests pin the mechanisms: cues with
alternative phrasings used in turn, refinement cues, tapering, progress marks
and their switches, and natural sentences at brief verbosity.
"""

from __future__ import annotations

import re
from collections import Counter
from importlib import resources
from pathlib import Path

import pytest

from matcue.cuescript import Block, Say, StepMark, parse_script
from matcue.errors import InputError
from matcue.pipeline import build_script, load_source, resolve_settings
from matcue.routine import load_routine
from matcue.templating import render_script_text

BUILTINS = sorted(
    p.name[: -len(".yaml")]
    for p in resources.files("matcue.library").iterdir()
    if p.name.endswith(".yaml")
)
MAX_TIMES = 8
MAX_RUN = 3


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s]


def _long(sentence: str) -> bool:
    return len(sentence.split()) >= 3


def _script_text(name: str, **overrides: object) -> str:
    source = load_source(name)
    settings = resolve_settings(source, dict(overrides))
    assert source.routine is not None
    return render_script_text(source.routine, settings)


def repetition_problems(text: str) -> list[str]:
    """Every sentence of 3+ words said more than MAX_TIMES times, or in more than
    MAX_RUN consecutive reps of one step, in cue-script ``text``."""
    script = parse_script(text, limit=False)
    said: Counter[str] = Counter()
    # Per step, its reps in order: each a set of the sentences said in it.
    steps: list[list[set[str]]] = []
    keys: list[tuple[str, str]] = []
    for item in script.items:
        if isinstance(item, StepMark):
            steps.append([])
            keys.append(("", ""))
        elif isinstance(item, Say):
            said.update(_sentences(item.text))
        elif isinstance(item, Block):
            attrs = dict(item.attrs)
            sentences = [s for line in item.lines if line.text for s in _sentences(line.text)]
            said.update(sentences)
            if "rep" not in attrs or not steps:
                continue
            key = (attrs.get("set", ""), attrs["rep"])
            if key != keys[-1]:
                steps[-1].append(set())
                keys[-1] = key
            steps[-1][-1].update(sentences)
    problems = [f"{s!r} said {n} times" for s, n in said.items() if _long(s) and n > MAX_TIMES]
    for reps in steps:
        runs: dict[str, int] = {}
        for rep in reps:
            runs = {s: runs.get(s, 0) + 1 for s in rep if _long(s)}
            problems += [f"{s!r} in {n} reps in a row" for s, n in runs.items() if n > MAX_RUN]
    return sorted(set(problems))


@pytest.mark.parametrize("name", BUILTINS)
def test_builtin_does_not_repeat_itself(name: str) -> None:
    assert repetition_problems(_script_text(name)) == []


def test_the_check_catches_repetition() -> None:
    """The check can fail: a sentence in four reps in a row, and one said nine times."""
    blocks = "".join(
        f"@block 4 rep={n}\n  0 move: Lift the chest slowly.\n@end\n" for n in range(1, 5)
    )
    text = "# matcue cue script 1\n@step A\n" + blocks + "Stay here, breathing.\n" * 9
    assert repetition_problems(text) == [
        "'Lift the chest slowly.' in 4 reps in a row",
        "'Stay here, breathing.' said 9 times",
    ]


# --- the mechanisms, on small routines --------------------------------------------------

HEAD = "matcue: 1\nname: t\ntitle: T\ndefaults: {breath: 10}\nsteps:\n"


def _write(tmp_path: Path, steps: str) -> Path:
    path = tmp_path / "t.yaml"
    path.write_text(HEAD + steps, encoding="utf-8")
    return path


def _blocks(path: Path, **overrides: object) -> list[Block]:
    source = load_source(str(path))
    script, _ = build_script(source, resolve_settings(source, dict(overrides)))
    return [item for item in script.items if isinstance(item, Block)]


def _said(block: Block, phase: str) -> str | None:
    return next((line.text for line in block.lines if line.phase == phase), None)


REPS = """\
  - kind: reps
    name: Tilts
    reps: 8
    move: 3
    hold: 3
    release: 3
    rest: 3
    cues:
      move:
        - Breathe out and tilt the pelvis.
        - Tilt, pressing the back down softly.
      release: Slowly tilt back.
      rest: Breathe in.
    words: {move: Tilt}
    refine: [Let the neck stay long., Keep the jaw soft.]
"""


def test_reps_taper_with_phrasings_in_turn_and_refinements(tmp_path: Path) -> None:
    blocks = _blocks(_write(tmp_path, REPS))
    moves = [_said(b, "move") for b in blocks]
    assert moves == [
        "Breathe out and tilt the pelvis.",
        "Tilt, pressing the back down softly.",
        "Breathe out and tilt the pelvis.",
        "Tilt.",
        "Tilt.",
        # The mark with a nine-word cue would not fit the 3 s move: the short word.
        "Three to go. Tilt.",
        "Tilt.",
        "Last one. Tilt.",
    ]
    holds = [_said(b, "hold") for b in blocks]
    # A refinement takes the hold (as long as the rest, and not counted) every third rep.
    assert holds[3] == "Let the neck stay long."
    assert holds[6] == "Keep the jaw soft."
    assert holds.count("Hold.") == 6
    # A cue of two words is its own short form: it stays on every rep.
    assert [_said(b, "rest") for b in blocks] == ["Breathe in."] * 8
    assert {_said(b, "release") for b in blocks[3:5]} == {"Release."}


def test_a_single_line_cue_still_loads_and_is_said_first(tmp_path: Path) -> None:
    steps = REPS.replace(
        "move:\n        - Breathe out and tilt the pelvis.\n"
        "        - Tilt, pressing the back down softly.",
        "move: Breathe out and tilt.",
    )
    assert steps != REPS
    blocks = _blocks(_write(tmp_path, steps))
    assert [_said(b, "move") for b in blocks[:3]] == ["Breathe out and tilt."] * 3


def test_progress_can_be_switched_off(tmp_path: Path) -> None:
    blocks = _blocks(_write(tmp_path, REPS + "    progress: false\n"))
    assert _said(blocks[5], "move") == "Tilt, pressing the back down softly."
    assert _said(blocks[7], "move") == "Tilt."
    blocks = _blocks(_write(tmp_path, REPS + "    progress: {countdown: false}\n"))
    assert _said(blocks[7], "move") == "Tilt."


def test_bad_progress_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InputError) as exc:
        load_routine(_write(tmp_path, REPS + "    progress: {countdwn: true}\n"))
    assert "steps[0].progress" in str(exc.value) and "countdwn" in str(exc.value)
    with pytest.raises(InputError) as exc:
        load_routine(_write(tmp_path, REPS + "    progress: maybe\n"))
    assert str(exc.value).count("steps[0].progress") == 1
    assert "expected true, false or a mapping of countdown, sets and halfway" in str(exc.value)


def test_halfway_in_a_long_hold_of_a_rep(tmp_path: Path) -> None:
    steps = REPS.replace("hold: 3\n", "hold: 20\n")
    assert steps != REPS
    (block, *_) = _blocks(_write(tmp_path, steps))
    lines = [(float(line.offset), line.text) for line in block.lines]
    assert lines[:3] == [
        (0.0, "Breathe out and tilt the pelvis."),
        (3.0, "Hold."),
        (13.0, "Halfway."),
    ]


def test_an_empty_cue_list_is_a_clear_error(tmp_path: Path) -> None:
    steps = REPS.replace("release: Slowly tilt back.", "release: []")
    with pytest.raises(InputError) as exc:
        load_routine(_write(tmp_path, steps))
    assert "steps[0].cues.release" in str(exc.value)


SETS = """\
  - kind: reps
    name: Hinges
    reps: 3
    sets: 2
    set_rest: 20
    cues: {move: Fold forward from the hips., release: Sit tall.}
"""


def test_every_set_is_announced_the_first_too(tmp_path: Path) -> None:
    path = _write(tmp_path, SETS)
    source = load_source(str(path))
    script, _ = build_script(source, resolve_settings(source, {}))
    said = [i.text for i in script.items if isinstance(i, Say)]
    assert "Set one of two." in said
    rests = [line.text for b in _blocks(path) if "rep" not in dict(b.attrs) for line in b.lines]
    assert rests == ["Rest between sets.", "Get ready for set two."]
    path = _write(tmp_path, SETS + "    progress: {sets: false}\n")
    source = load_source(str(path))
    script, _ = build_script(source, resolve_settings(source, {}))
    assert "Set one of two." not in [i.text for i in script.items if isinstance(i, Say)]


def test_brief_names_the_side_in_a_sentence(tmp_path: Path) -> None:
    steps = """\
  - kind: reps
    name: Knee in
    sides: both
    alternate: true
    reps: 3
    cues: {move: Draw the knee in gently., release: Lower the leg.}
"""
    for verbosity in ("brief", "full"):
        moves = [_said(b, "move") for b in _blocks(_write(tmp_path, steps), verbosity=verbosity)]
        assert moves[0] == "Left side. Draw the knee in gently."
        assert moves[1] == "Right side. Draw the knee in gently."
    moves = [_said(b, "move") for b in _blocks(_write(tmp_path, steps), verbosity="brief")]
    assert moves[2:] == [
        "Left side now.",
        "Right side now.",
        "Last one. Left side now.",
        "Right side now.",
    ]


def test_halfway_in_a_long_hold(tmp_path: Path) -> None:
    steps = """\
  - kind: hold
    name: Rest pose
    duration: 30
    cues: [Shoulders soft., Breathe wide., Jaw loose.]
"""
    (block,) = _blocks(_write(tmp_path, steps))
    lines = [(float(line.offset), line.text) for line in block.lines]
    assert lines == [
        (0.0, "Hold here."),
        (5.0, "Shoulders soft."),
        (10.0, "Breathe wide."),
        (15.0, "Halfway."),
        (22.5, "Jaw loose."),
    ]
    (block,) = _blocks(_write(tmp_path, steps + "    progress: {halfway: false}\n"))
    assert "Halfway." not in [line.text for line in block.lines]
    short = steps.replace("duration: 30", "duration: 15")
    (block,) = _blocks(_write(tmp_path, short))
    assert "Halfway." not in [line.text for line in block.lines]


def test_breath_refinement_takes_the_longer_phase(tmp_path: Path) -> None:
    steps = """\
  - kind: breath
    name: Cat-Cow
    reps: 4
    cycle: 10
    split: 0.4
    cues: {inhale: [Arch gently., Lift the chest.], exhale: Round the back slowly.}
    refine: Let the neck stay long.
"""
    blocks = _blocks(_write(tmp_path, steps))
    assert [_said(b, "inhale") for b in blocks] == [
        "Arch gently.",
        "Lift the chest.",
        "Arch gently.",
        "Last one. Breathe in.",
    ]
    assert [_said(b, "exhale") for b in blocks] == [
        "Round the back slowly.",
        "Round the back slowly.",
        "Round the back slowly.",
        "Let the neck stay long.",
    ]


MARKS = ("Last one.", "Three to go.", "Halfway.")


@pytest.mark.parametrize("engine", ["piper", "pyttsx3"])
def test_control_fitted_to_an_hour_says_every_progress_mark_within_its_window(
    engine: str,
) -> None:
    """Regression: `matcue render control --minutes 60` warned of 9 overruns once
    speech was calibrated to 150 wpm ("Last one. Left side. Knee in, right heel
    heavy." ran 0.6 s past a 3 s move even at 1.25x), and the overrun advice
    made the `make bench` hour 40% slower. A mark with a side and a full cue too
    long for the window now takes the short word. Checked with the real voices:
    each line that carries a mark is spoken, and the scheduler (the render's)
    finds no overrun; every other line is given a one-sample length (a fake: it
    only keeps the timeline's flowing speech from mattering here)."""
    from matcue.schedule import schedule
    from matcue.sounds import sound_length
    from matcue.speech import SpeechSettings, get_engine

    source = load_source("control")
    settings = resolve_settings(source, {"minutes": 60, "engine": engine})
    script, _ = build_script(source, settings)
    voice = get_engine(engine)
    rate = settings.sample_rate
    marked = {
        line.text
        for block in script.items
        if isinstance(block, Block)
        for line in block.lines
        if line.text and line.text.startswith(MARKS)
    }
    assert any(t.startswith("Last one.") for t in marked)  # the case the bug was in
    lengths = {}
    for text in marked:
        clip = voice.synthesize(text, SpeechSettings(engine=engine))
        lengths[text] = round(clip.duration * rate)
    plan = schedule(
        script,
        sample_rate=rate,
        speech_length=lambda text: lengths.get(text, 1),
        sound_length=lambda name: sound_length(name, rate),
    )
    assert [(o.where, o.text) for o in plan.overruns] == []
