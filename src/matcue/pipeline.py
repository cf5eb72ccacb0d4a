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

import numpy as np

from . import cuescript
from . import schedule as schedule_mod
from .advice import OverrunAdvisor
from .atomic import staged_outputs, writes_through
from .errors import Spell, as_written
from .estimate import estimate_seconds
from .export import tags_from_timeline, write_timeline_json, write_vtt
from .mix import MixSettings, MixStream, render_chunks
from .settings import Settings
from .sounds import BED_NAMES, sound_length
from .source import (
    ROUTINE_SETTINGS,
    Source,
    _build_script,
    build_script,
    check_voice,
    input_files,
    is_cue_script,
    load_source,
    resolve_settings,
    unspoken_notes,
    write_script,
)
from .speech.base import Engine, SpeechSettings
from .speech.cache import ClipCache
from .speech.language import choose_voice
from .speech.stretch import time_stretch
from .speech.synth import Synthesizer
from .timeline import Timeline
from .writers import AudioSpec, writer_for

log = logging.getLogger(__name__)

__all__ = [
    # the stages up to the cue script, from matcue.source (no audio stack)
    "ROUTINE_SETTINGS",
    "Source",
    "build_script",
    "check_voice",
    "is_cue_script",
    "load_source",
    "resolve_settings",
    "write_script",
    # the rest of the way to the files
    "Prepared",
    "ProgressBar",
    "RenderResult",
    "prepare",
    "render",
    "speech_settings",
]


@dataclass
class RenderResult:
    output: Path
    duration: float
    timeline: Timeline
    transcript: Path | None = None
    timeline_json: Path | None = None
    warnings: list[str] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """The routine's texts the session does not speak, each with the reason."""
    elapsed: float = 0.0


def speech_settings(settings: Settings) -> SpeechSettings:
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
    notes: list[str] = field(default_factory=list)
    """The routine's texts the cue script does not speak, and why (:mod:`matcue.unspoken`)."""


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
    synth = to_make * SYNTH_SECONDS_PER_PHRASE
    mix = estimate_seconds(script, settings.rate) / 60 * MIX_SECONDS_PER_MINUTE
    return synth / (synth + mix) if synth + mix > 0 else 0.0


def prepare(
    source: Source,
    settings: Settings,
    *,
    progress: Callable[[str, float], None] | None = None,
    synth_workers: int = 2,
    spell: Spell = as_written,
) -> Prepared:
    """Cue script, speech clips and schedule for ``source`` under ``settings``.

    ``progress("synthesis", fraction)`` follows the synthesis from 0 to 1; ``spell``
    names a setting in the overrun advice (the command line's flags: ``--breath``)."""
    bar = ProgressBar(progress)
    prepared = _prepare(
        source, settings, bar=bar, synth_workers=synth_workers, alone=True, spell=spell
    )
    bar(1.0)
    return prepared


def _prepare(
    source: Source,
    settings: Settings,
    *,
    bar: ProgressBar,
    synth_workers: int,
    alone: bool,
    spell: Spell,
) -> Prepared:
    """:func:`prepare`, with the synthesis on ``bar``: all of it when ``alone``, else
    the share of the render's time it is expected to take (none for cached phrases)."""
    script, changes, routine = _build_script(source, settings)
    log.debug("cue script: %d items, %d phrases", len(script.items), len(script.phrases()))
    notes: list[str] = []
    warnings: list[str] = []
    if routine is not None:
        settings, notes, warnings = language_voice(routine.language, settings)
        changes = [*notes, *changes]
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
        spell=spell,
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
    timeline.warnings[:0] = warnings  # the voice's language first
    log.debug("schedule: %d events, %.1f s", len(timeline.events), timeline.duration)
    return Prepared(timeline, clips, changes, unspoken_notes(source, settings, script))


def render(
    source: Source,
    settings: Settings,
    output: Path,
    *,
    timeline_path: Path | None = None,
    transcript: bool = True,
    progress: Callable[[str, float], None] | None = None,
    synth_workers: int = 2,
    spell: Spell = as_written,
) -> RenderResult:
    """Render ``source`` to ``output`` (in the format ``settings.format`` names, by its
    writer in :mod:`matcue.writers`), with a WebVTT transcript beside it and optionally
    a JSON timeline. ``spell`` names a setting in the overrun advice (see
    :func:`prepare`) and an output (``output``, ``timeline``) in a message about it."""
    started = time.monotonic()
    # A transcript goes beside a file; standard output, a device or a FIFO has no "beside".
    beside = transcript and not writes_through(output)
    transcript_path = output.with_suffix(".vtt") if beside else None
    with staged_outputs() as outputs:
        # Every destination is checked, and its temporary file made, before the slow
        # work; the files go into place together at the end, or none of them does.
        # No output may replace a file the render reads.
        for path, what in render_inputs(source, settings):
            outputs.protect(path, what)
        # Each output is named in a message as the option that chose it (``spell``).
        audio_tmp = outputs.add(output, spell("output"))
        hint = f"use {spell('no_transcript')}, or another {spell('output')} name"
        vtt_tmp = outputs.add(transcript_path, "the transcript", hint) if transcript_path else None
        json_tmp = outputs.add(timeline_path, spell("timeline")) if timeline_path else None
        bar = ProgressBar(progress)
        prepared = _prepare(
            source, settings, bar=bar, synth_workers=synth_workers, alone=False, spell=spell
        )
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
        headroom = writer.headroom_for(settings.bitrate)
        if headroom:
            # A lossy encoder's overshoots land after the limiter: leave them room.
            mix = replace(mix, true_peak_db=mix.true_peak_db - headroom)
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
        notes=prepared.notes,
        transcript=transcript_path,
        timeline_json=timeline_path,
    )
    result.elapsed = time.monotonic() - started
    log.info("rendered %s (%.1f s of audio) in %.1f s", output, timeline.duration, result.elapsed)
    return result


def language_voice(language: str, settings: Settings) -> tuple[Settings, list[str], list[str]]:
    """``settings`` with the engine and voice a routine in ``language`` speaks with
    (:func:`matcue.speech.language.choose_voice`), the notices and the warnings."""
    choice = choose_voice(language, settings.engine, settings.voice, settings.voice_model)
    chosen = settings.model_copy(update={"engine": choice.engine, "voice": choice.voice})
    return chosen, choice.notices, choice.warnings


def render_inputs(source: Source, settings: Settings) -> list[tuple[Path, str]]:
    """The files a render reads, as ``(path, what)``: no output may be one of them."""
    inputs = input_files(source)
    if settings.bed and settings.bed not in BED_NAMES:
        inputs.append((Path(settings.bed), "the bed"))
    if settings.voice_model:
        inputs.append((Path(settings.voice_model), "the voice model"))
    return inputs


def _meta(
    source: Source, settings: Settings, engine: Engine, speech: SpeechSettings | None = None
) -> dict[str, str]:
    """The settings a session was made with, as recorded in its tags and transcript
    (the cue script's ``@meta`` supplies ``breath``: the cycles actually paced).

    Values are what was used, not merely what was asked: the voice the engine
    spoke with, piper's model file, the bed's level only when there is a bed. A cue
    script renders as it stands, so its own ``pace`` and ``verbosity`` stay."""
    meta = {"routine": source.name}
    if source.routine is not None:
        meta["pace"] = settings.pace_text
        meta["verbosity"] = settings.verbosity.value
        if settings.minutes:
            meta["minutes"] = f"{settings.minutes:g}"
        if settings.week:
            meta["week"] = str(settings.week)
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
