"""render(): the stages in order.

routine -> cue script -> clips -> schedule -> mix -> encode -> transcript/timeline.
Each stage is a plain function in its own module; this one only strings them
together, logs each stage, and writes every output atomically.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from . import cuescript
from . import schedule as schedule_mod
from .advice import OverrunAdvisor
from .atomic import atomic_output, staged_outputs
from .errors import InputError, ValidationError
from .settings import Settings, merge
from .templating import render_script_text
from .timeline import Timeline

log = logging.getLogger(__name__)

CUE_SUFFIXES = (".cue", ".txt")


@dataclass
class Source:
    """What the user asked to render: a routine, or a cue script as it stands."""

    name: str
    routine: Any | None = None
    script: cuescript.CueScript | None = None
    path: Path | None = None


@dataclass
class RenderResult:
    output: Path
    duration: float
    timeline: Timeline
    transcript: Path | None = None
    timeline_json: Path | None = None
    warnings: list[str] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)
    elapsed: float = 0.0


def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder, not a file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ValidationError([f"{path}:{line}: -: not UTF-8 text (byte {exc.start})"]) from None


def _starts_like_cue_script(path: Path) -> bool:
    """True for a file whose first bytes are the cue-script header (any name)."""
    try:
        with path.open("rb") as f:
            return f.read(len(cuescript.HEADER)) == cuescript.HEADER.encode()
    except OSError:
        return False


ROUTINE_FLAGS: dict[str, str] = {
    "pace": "--pace",
    "breath": "--breath",
    "count": "--count",
    "minutes": "--minutes",
    "verbosity": "--verbosity",
    "templates": "--templates",
}
"""Settings that shape the cue script a routine's templates write, by their flag. A cue
script is rendered as it stands, so none of them can apply to it."""


def is_cue_script(arg: str) -> bool:
    """True when ``arg`` names a cue script (by its suffix or its first line)."""
    path = Path(arg)
    return path.suffix.lower() in CUE_SUFFIXES or _starts_like_cue_script(path)


def routine_flags_given(overrides: dict[str, Any]) -> list[str]:
    """The flags in ``overrides`` that only a routine can honour (see ROUTINE_FLAGS)."""
    return [flag for key, flag in ROUTINE_FLAGS.items() if overrides.get(key) is not None]


def refuse_routine_flags(names: list[str], flags: list[str]) -> None:
    """InputError: ``flags`` cannot apply to the cue scripts ``names`` (all there is
    to render, so the flags would do nothing at all)."""
    them = "it" if len(flags) == 1 else "them"
    what = (
        f"{names[0]} is a cue script, rendered as it stands"
        if len(names) == 1
        else f"{', '.join(names)} are cue scripts, rendered as they stand"
    )
    raise InputError(
        f"{', '.join(flags)}: {'this shapes' if len(flags) == 1 else 'these shape'} how a "
        f"routine becomes a cue script; {what}. Leave {them} out, or make the cue script "
        f"again: matcue script ROUTINE {' '.join(f + ' ...' for f in flags)}"
    )


def routine_flags_warning(name: str, flags: list[str]) -> str:
    """For a cue script in a batch with routines: the flags apply to the routines only."""
    return (
        f"{name}: a cue script is rendered as it stands; "
        f"{', '.join(flags)} {'applies' if len(flags) == 1 else 'apply'} to the routines only"
    )


def load_source(arg: str) -> Source:
    """A built-in routine name, a routine file, or a cue script file."""
    from .routine import builtin_names, load_builtin, load_routine

    path = Path(arg)
    if is_cue_script(arg):
        if not path.exists():
            raise InputError(f"{arg}: no such file")
        text = _read_text(path)
        script = cuescript.parse_script(text, filename=str(path))
        name = script.meta.get("routine") or path.stem
        return Source(name=path.stem if path.stem else name, script=script, path=path)
    if path.exists() or path.suffix.lower() in (".yaml", ".yml") or "/" in arg:
        routine = load_routine(path)
        return Source(name=routine.name or path.stem, routine=routine, path=path)
    names = builtin_names()
    if arg in names:
        routine = load_builtin(arg)
        return Source(name=arg, routine=routine)
    raise InputError(
        f"{arg}: no built-in routine of that name and no such file "
        f"(built-ins: {', '.join(names)}; see 'matcue routines')"
    )


def resolve_settings(source: Source, overrides: dict[str, Any]) -> Settings:
    """matcue's defaults, then the routine's, then ``overrides``. For a cue script the
    routine-shaping settings are dropped (checked and reported by the callers), so its
    tags do not claim a pace or length it was not made with."""
    if source.script is not None:
        overrides = {k: v for k, v in overrides.items() if k not in ROUTINE_FLAGS}
        return merge(None, overrides)
    return merge(getattr(source.routine, "defaults", None), overrides)


def build_script(source: Source, settings: Settings) -> tuple[cuescript.CueScript, list[str]]:
    """The cue script for ``source`` (fitted to ``settings.minutes`` when
    given) and the list of changes the fitting made."""
    script, changes, _routine = _build_script(source, settings)
    return script, changes


def _build_script(
    source: Source, settings: Settings
) -> tuple[cuescript.CueScript, list[str], Any | None]:
    """:func:`build_script`, and the routine as rendered (None for a cue script)."""
    if source.script is not None:
        return source.script, [], None
    routine = source.routine
    changes: list[str] = []
    if settings.minutes is not None:
        from .fit import FitCache, fit_routine

        routine, changes = fit_routine(routine, settings, cache=FitCache())
    text = render_script_text(routine, settings)
    try:
        script = cuescript.parse_script(
            text, filename=f"<cue script of {source.name}>", limit=False
        )
    except ValidationError as exc:
        raise InputError(
            "the templates produced an invalid cue script:\n" + "\n".join(exc.problems)
        ) from None
    _check_session_length(source, settings, script)
    return script, changes, routine


def _check_session_length(source: Source, settings: Settings, script: cuescript.CueScript) -> None:
    """The routine file's 4-hour limit, applied to the session the flags made: a
    routine within it at its own defaults can pass it at a longer --breath or --count
    or a slower --pace (or with --templates that repeat more)."""
    from .routine import MAX_TOTAL_SECONDS, _hours

    seconds = float(script.timed_seconds())
    if seconds <= MAX_TOTAL_SECONDS:
        return
    d = getattr(source.routine, "defaults", None)
    breath = settings.breath if settings.breath is not None else getattr(d, "breath", 10)
    count = settings.count if settings.count is not None else getattr(d, "count", 1)
    raise InputError(
        f"{source.path or source.name}: at breath {breath:g} s, count {count:g} s and pace "
        f"{float(settings.pace_factor):g} the timed parts add up to about {_hours(seconds)}; "
        "the limit for a session is 4 hours (a shorter --breath or --count, or a faster "
        "--pace, brings it under)"
    )


def check_voice(source: Source, settings: Settings, *, engine_required: bool = True) -> None:
    """Refuse a voice the engine does not have, before any speech, naming where it
    was chosen: the routine file's ``defaults.voice`` (file:line) or ``--voice``.

    With ``engine_required`` False (``matcue check``) a voice is only checked when
    its engine can be started here and lists its voices without further input:
    pyttsx3, or espeak-ng where the program is installed; piper's voices live in
    the model file given at render time."""
    from .errors import EngineUnavailable, MatcueError
    from .speech import get_engine, match_voice

    if not settings.voice:
        return
    try:
        engine = get_engine(settings.engine, voice=settings.voice)
        voices = engine.voices(settings.voice_model)
    except MatcueError:
        if engine_required:
            raise
        return
    try:
        match_voice(voices, settings.voice, engine.name)
    except EngineUnavailable as exc:
        routine = source.routine
        defaults = getattr(routine, "defaults", None)
        if routine is not None and getattr(defaults, "voice", None) == settings.voice:
            raise ValidationError([routine.problem(("defaults", "voice"), str(exc))]) from None
        raise InputError(f"--voice: {exc}") from None


def speech_settings(settings: Settings) -> Any:
    from .speech.base import SpeechSettings

    return SpeechSettings(
        engine=settings.engine,
        voice=settings.voice,
        rate=settings.rate,
        volume=None,  # --volume is applied in the mix (MixSettings.speech_volume)
        model=settings.voice_model,
    )


@dataclass
class Prepared:
    """Everything up to the mix: the schedule and the clips it places."""

    timeline: Timeline
    clips: dict[str, np.ndarray]
    changes: list[str]


SYNTH_SECONDS_PER_PHRASE = 0.03
MIX_SECONDS_PER_MINUTE = 0.4
"""Rough costs of the two long stages on 2 cores (measured on control with a cold
cache: 59 phrases synthesized in 1.5 s; 11.5 minutes mixed and encoded in 5.7 s).
They only share the progress bar between the stages."""


class ProgressBar:
    """One progress value from 0 to 1 over a render's stages, never going back.

    Each stage takes a span of the bar from where it stands and reports its own
    progress from 0 to 1 within it; ``sink(stage, value)`` gets the whole bar's value.
    """

    def __init__(self, sink: Callable[[str, float], None] | None) -> None:
        self.sink = sink
        self.value = 0.0
        self.name = ""
        self._start = 0.0
        self._span = 0.0

    def stage(self, name: str, span: float) -> None:
        """Start stage ``name``, taking ``span`` of the bar (at most what is left)."""
        self.name = name
        self._start = self.value
        self._span = max(0.0, min(span, 1.0 - self.value))
        self(0.0)

    def __call__(self, fraction: float) -> None:
        value = self._start + self._span * min(max(fraction, 0.0), 1.0)
        self.value = max(self.value, min(value, 1.0))
        if self.sink is not None:
            self.sink(self.name, self.value)


def _synthesis_share(script: cuescript.CueScript, to_make: int, settings: Settings) -> float:
    """The part of a render's time that synthesizing ``to_make`` phrases takes (about)."""
    from .catalog import ESTIMATE_WPM, estimate_seconds

    synth = to_make * SYNTH_SECONDS_PER_PHRASE
    mix = estimate_seconds(script, settings.rate or ESTIMATE_WPM) / 60 * MIX_SECONDS_PER_MINUTE
    return synth / (synth + mix) if synth + mix > 0 else 0.0


def prepare(
    source: Source,
    settings: Settings,
    *,
    progress: Callable[[str, float], None] | None = None,
    synth_workers: int = 2,
) -> Prepared:
    """Cue script, speech clips and schedule for ``source`` under ``settings``.

    ``progress("synthesis", fraction)`` follows the synthesis from 0 to 1."""
    bar = ProgressBar(progress)
    prepared = _prepare(source, settings, bar=bar, synth_workers=synth_workers, alone=True)
    bar(1.0)
    return prepared


def _prepare(
    source: Source,
    settings: Settings,
    *,
    bar: ProgressBar,
    synth_workers: int,
    alone: bool,
) -> Prepared:
    """:func:`prepare`, with the synthesis on ``bar``: all of it when ``alone``, else
    the share of the render's time it is expected to take (none for cached phrases)."""
    from .sounds import sound_length
    from .speech.cache import ClipCache
    from .speech.stretch import time_stretch
    from .speech.synth import Synthesizer

    script, changes, routine = _build_script(source, settings)
    log.debug("cue script: %d items, %d phrases", len(script.items), len(script.phrases()))
    check_voice(source, settings)
    sr = settings.sample_rate
    with Synthesizer(
        speech_settings(settings), sample_rate=sr, cache=ClipCache(), workers=synth_workers
    ) as synth:
        phrases = script.phrases()
        synth.prefetch(phrases)  # loads the cached phrases
        to_make = len(phrases) - synth.stats.hits
        bar.stage("synthesis", 1.0 if alone else _synthesis_share(script, to_make, settings))
        clips: dict[str, np.ndarray] = {}
        for i, text in enumerate(phrases, start=1):
            clips[text] = synth.get(text)
            bar(i / max(len(phrases), 1))
        meta = _meta(source, settings, synth.engine, synth.settings)  # what spoke, for tags
        rate = settings.rate or synth.engine.default_rate()
    log.debug("synthesis done: %d phrases", len(clips))

    advisor = OverrunAdvisor(
        routine=routine,
        settings=settings,
        lengths={text: len(clip) for text, clip in clips.items()},
        sound_length=lambda name: sound_length(name, sr),
        rate=rate,
    )
    plan = schedule_mod.schedule(
        script,
        sample_rate=sr,
        speech_length=lambda text: len(clips[text]),
        sound_length=lambda name: sound_length(name, sr),
        strict=settings.strict,
        sounds=settings.chime,
        advise=advisor,
    )
    for key, stretch in plan.stretches.items():
        clips[key] = time_stretch(clips[stretch.text], stretch.factor, sr)
    timeline = plan.timeline
    timeline.meta.update(meta)
    log.debug("schedule: %d events, %.1f s", len(timeline.events), timeline.duration)
    return Prepared(timeline, clips, changes)


def render(
    source: Source,
    settings: Settings,
    output: Path,
    *,
    timeline_path: Path | None = None,
    transcript: bool = True,
    progress: Callable[[str, float], None] | None = None,
    synth_workers: int = 2,
) -> RenderResult:
    """Render ``source`` to ``output`` (in the format ``settings.format`` names, by its
    writer in :mod:`matcue.writers`), with a WebVTT transcript beside it and optionally
    a JSON timeline."""
    from .export import tags_from_timeline, write_timeline_json, write_vtt
    from .mix import MixSettings, MixStream, render_chunks
    from .writers import AudioSpec, writer_for

    started = time.monotonic()
    transcript_path = output.with_suffix(".vtt") if transcript else None
    with staged_outputs() as outputs:
        # Every destination is checked, and its temporary file made, before the slow
        # work; the files go into place together at the end, or none of them does.
        audio_tmp = outputs.add(output, "-o")
        vtt_tmp = outputs.add(transcript_path, "the transcript") if transcript_path else None
        json_tmp = outputs.add(timeline_path, "--timeline") if timeline_path else None
        bar = ProgressBar(progress)
        prepared = _prepare(source, settings, bar=bar, synth_workers=synth_workers, alone=False)
        timeline, clips = prepared.timeline, prepared.clips
        sr = settings.sample_rate

        mix = MixSettings(
            chime=settings.chime,
            breath_tone=settings.breath_tone,
            bed=settings.bed,
            channels=settings.channels,
        )
        if settings.bed_volume is not None:
            mix = replace(mix, bed_volume_db=settings.bed_volume)
        if settings.volume is not None:
            mix = replace(mix, speech_volume=settings.volume)
        writer = writer_for(settings.format)
        if writer.headroom_db:
            # A lossy encoder's overshoots land after the limiter: leave them room.
            mix = replace(mix, true_peak_db=mix.true_peak_db - writer.headroom_db)
        total = timeline.length
        bar.stage("mixing and encoding", 1.0)  # the rest of the bar

        tags = tags_from_timeline(timeline)
        spec = AudioSpec(sr, settings.channels, total, settings.bitrate)

        def write(measure: bool) -> MixStream:
            chunks = render_chunks(timeline, clips, mix, progress=bar, measure=measure)
            writer.write(
                chunks, audio_tmp, spec=spec, tags=tags, chapters=timeline.chapters, atomic=False
            )
            return chunks

        stream = write(measure=False)
        if stream.off_target() and not stream.measured_gain:
            # The model is exact for speech and bells and within a few hundredths of a LU
            # with a bed or tone; should a session ever fall outside it (or a cached gain
            # be wrong), measure the gain and render again.
            log.warning(
                "the session's gain missed its target (%.2f LUFS for %.2f); "
                "measuring it and rendering again",
                stream.measured_lufs,
                stream.target_lufs,
            )
            stream.forget_gain()
            # Rare, and unforeseeable: the bar, already full, stays there under a new name.
            bar.stage("measuring loudness, mixing again", 0.0)
            write(measure=True)
        if vtt_tmp is not None:
            write_vtt(timeline, vtt_tmp, atomic=False)
        if json_tmp is not None:
            write_timeline_json(timeline, json_tmp, atomic=False)
    result = RenderResult(
        output=output,
        duration=timeline.duration,
        timeline=timeline,
        warnings=list(timeline.warnings),
        changes=prepared.changes,
        transcript=transcript_path,
        timeline_json=timeline_path,
    )
    result.elapsed = time.monotonic() - started
    log.info("rendered %s (%.1f s of audio) in %.1f s", output, timeline.duration, result.elapsed)
    return result


def _meta(source: Source, settings: Settings, engine: Any, speech: Any = None) -> dict[str, str]:
    """The settings a session was made with, as recorded in its tags and transcript
    (the cue script's ``@meta`` supplies ``breath``: the cycles actually paced).

    Values are what was used, not merely what was asked: the voice the engine
    spoke with, piper's model file, the bed's level only when there is a bed. A cue
    script renders as it stands, so its own ``pace`` and ``verbosity`` stay."""
    from .mix import MixSettings
    from .sounds import BED_NAMES

    meta = {"routine": source.name}
    if source.routine is not None:
        meta["pace"] = str(settings.pace)
        meta["verbosity"] = settings.verbosity
        if settings.minutes:
            meta["minutes"] = f"{settings.minutes:g}"
    meta["engine"] = engine.name
    meta.update(engine.describe(speech if speech is not None else speech_settings(settings)))
    meta["rate"] = str(settings.rate) if settings.rate else "default"
    meta["volume"] = f"{settings.volume:g}" if settings.volume is not None else "1"
    meta["chime"] = "on" if settings.chime else "off"
    meta["breath_tone"] = "on" if settings.breath_tone else "off"
    if settings.bed:
        meta["bed"] = settings.bed if settings.bed in BED_NAMES else Path(settings.bed).name
        level = settings.bed_volume
        meta["bed_volume"] = f"{MixSettings.bed_volume_db if level is None else level:g}"
    else:
        meta["bed"] = "none"
    return meta


def write_script(script_text: str, path: Path) -> None:
    with atomic_output(path) as tmp:
        tmp.write_text(script_text, encoding="utf-8")
