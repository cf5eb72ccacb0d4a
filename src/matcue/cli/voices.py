"""``matcue voices`` (list, ``add``, ``--sample``) and ``matcue say``: hearing and
choosing a voice before a render."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from .app import handle_errors, main, voice_options

SAMPLE_TEXT = "Breathe in slowly, and let the shoulders soften as you breathe out."
SAMPLE_LANGUAGE = "en"
"""The language of :data:`SAMPLE_TEXT`: ``--sample`` speaks it with the voices of
this language only (an English sentence in a Finnish voice compares nothing)."""

ENGINE_LICENCES = {"pyttsx3": "GPL-3.0-or-later (eSpeak NG)", "espeak-ng": "GPL-3.0-or-later"}
"""The voices' own licence where the engine's voices share one (on Linux pyttsx3
speaks with eSpeak NG's voices; elsewhere with the system's)."""


def _rows(engine: str | None, model: str | None, *, catalogue: bool) -> list[dict[str, Any]]:
    """One row per voice: id, engine, language, gender, quality, licence, installed."""
    from ..errors import MatcueError
    from ..speech import AUTO, engine_names, get_engine

    # Every engine (piper first, as the default voice); engines a package adds last.
    first = ["piper", "pyttsx3", "espeak-ng"]
    names = [engine] if engine else first + [n for n in engine_names() if n not in (AUTO, *first)]
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    for name in names:
        try:
            eng = get_engine(name)
            try:
                voices = eng.voices(model if name == engine else None)
            finally:
                eng.close()
        except MatcueError as exc:
            if engine:
                raise
            notes.append(f"{name}: not available here ({_first_sentence(str(exc))})")
            continue
        licence = ENGINE_LICENCES.get(eng.name) if sys.platform.startswith("linux") else None
        for v in voices:
            rows.append(
                {
                    "id": v.id,
                    "engine": eng.name,
                    "language": ",".join(v.languages) or "-",
                    "gender": (v.gender or "-").lower(),
                    "quality": v.quality or "-",
                    "licence": v.licence or licence or "-",
                    "installed": "yes" if v.installed else "no",
                }
            )
    if catalogue and (engine in (None, "piper")) and not model:
        from ..speech import piper_voices

        try:
            entries = piper_voices.catalogue()
        except MatcueError as exc:
            notes.append(f"piper catalogue: {exc}")
        else:
            here = {r["id"] for r in rows if r["engine"] == "piper"}
            for v in piper_voices.catalogue_voices(entries):
                if v.id in here:
                    continue
                rows.append(
                    {
                        "id": v.id,
                        "engine": "piper",
                        "language": ",".join(v.languages) or "-",
                        "gender": "-",
                        "quality": v.quality or "-",
                        "licence": "see model card",
                        "installed": "no",
                    }
                )
    for note in notes:
        click.echo(f"note: {note}", err=True)
    return rows


def _first_sentence(text: str) -> str:
    """The first sentence of an error message (a note stays one short line)."""
    head, dot, _rest = text.partition(". ")
    return head + dot.strip() if dot else text


COLUMNS = ("id", "engine", "language", "gender", "quality", "licence", "installed")


@main.group(invoke_without_command=True)
@click.option("--engine", help="Only this engine's voices (default: every engine's).")
@click.option(
    "--voice-model",
    type=click.Path(path_type=Path),
    help="A piper voice model file: list its speakers.",
)
@click.option("--no-catalogue", is_flag=True, help="Do not fetch piper's voice catalogue.")
@click.option(
    "--sample",
    "sample_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write one English sentence per installed English voice into this folder.",
)
@click.pass_context
@handle_errors
def voices(
    ctx: click.Context,
    engine: str | None,
    voice_model: Path | None,
    no_catalogue: bool,
    sample_dir: Path | None,
) -> None:
    """Every engine's voices in one table: id, engine, language, gender, quality,
    licence, installed. Piper voices not installed come from piper's catalogue
    (add one with `matcue voices add NAME`).

    With --engine, that engine's installed voices one per line, tab-separated:
    id, name, languages (for piper with --voice-model, the model's speakers)."""
    if ctx.invoked_subcommand is not None:
        return
    model = str(voice_model) if voice_model is not None else None
    if model and not engine:
        engine = "piper"  # only piper takes a model file: list its speakers
    if engine and sample_dir is None:
        from ..speech import SpeechSettings, list_voices

        for v in list_voices(engine, SpeechSettings(engine=engine, model=model)):
            click.echo(f"{v.id}\t{v.name}\t{','.join(v.languages)}")
        return
    rows = _rows(engine, model, catalogue=not no_catalogue and sample_dir is None)
    if sample_dir is not None:
        _samples(sample_dir, rows, model)
        return
    widths = {c: max([len(c), *(len(str(r[c])) for r in rows)]) for c in COLUMNS}
    click.echo("  ".join(c.ljust(widths[c]) for c in COLUMNS).rstrip())
    for row in rows:
        click.echo("  ".join(str(row[c]).ljust(widths[c]) for c in COLUMNS).rstrip())


def _samples(folder: Path, rows: list[dict[str, Any]], model: str | None) -> None:
    from ..errors import MatcueError
    from ..speech import SpeechSettings
    from ..speech.sample import write_sample

    folder.mkdir(parents=True, exist_ok=True)
    other = 0
    for row in rows:
        if row["installed"] != "yes":
            continue
        if not _speaks(row["language"], SAMPLE_LANGUAGE):
            other += 1
            continue
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in row["id"])
        target = folder / f"{row['engine']}-{safe}.wav"
        settings = SpeechSettings(engine=row["engine"], voice=row["id"], model=model)
        try:
            write_sample(SAMPLE_TEXT, settings, target)
        except MatcueError as exc:  # one voice that cannot speak: say so, go on
            click.echo(f"note: {row['engine']} {row['id']}: no sample ({exc})", err=True)
            continue
        click.echo(f"wrote {target}")
    if other:
        click.echo(
            f"note: {other} installed voices do not speak English, the sample's language: "
            'hear one with matcue say "TEXT" --voice ID',
            err=True,
        )


def _speaks(languages: str, language: str) -> bool:
    """True when the table's language column names ``language`` (or none)."""
    return languages == "-" or any(
        code.strip().lower().replace("_", "-").split("-")[0] == language
        for code in languages.split(",")
    )


@voices.command("add")
@click.argument("name")
@handle_errors
def voices_add(name: str) -> None:
    """Fetch piper voice NAME (e.g. en_GB-alba-medium) from piper's catalogue,
    check it against the catalogue's size and md5, and keep it for --voice NAME."""
    from ..speech import piper_voices

    path = piper_voices.add(name)
    click.echo(f"added {name}: {path} (use it with --voice {name})")


@main.command()
@click.argument("text")
@voice_options
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("sample.wav"),
    show_default=True,
    help="WAV file to write.",
)
@handle_errors
def say(
    text: str,
    engine: str | None,
    voice: str | None,
    rate: int | None,
    volume: float | None,
    voice_model: Path | None,
    output: Path,
) -> None:
    """Speak TEXT into a WAV file, to hear a voice before a render."""
    from ..errors import InputError
    from ..speech import SpeechSettings

    if not text.strip():
        raise InputError("TEXT is empty: give `matcue say` the words to speak")
    if output.suffix.lower() != ".wav":
        raise InputError(f"-o {output}: `matcue say` writes WAV, give a name ending in .wav")
    from ..speech.sample import write_sample

    settings = SpeechSettings(
        engine=engine or "auto",
        voice=voice,
        rate=rate,
        volume=volume,
        model=str(voice_model) if voice_model is not None else None,
    )
    used = write_sample(text, settings, output)
    click.echo(f"wrote {output} ({used})")
