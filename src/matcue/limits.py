"""Every limit and default matcue has, in one place.

The routine models (:mod:`matcue.routine`), the settings (:mod:`matcue.settings`),
the command-line help and messages (:mod:`matcue.cli`), the JSON Schema of a
routine file and ``--minutes`` fitting all read these names; none of them
writes a number of its own. Ranges are ``(low, high)``, inclusive unless the
name says otherwise. Exact values (paces, breath and count ranges) are
:class:`~fractions.Fraction` so timing stays exact; ``float()`` them for
messages and schemas.
"""

from __future__ import annotations

from fractions import Fraction

# ---------------------------------------------------------------- pace

PACE_FACTORS: dict[str, Fraction] = {
    "slow": Fraction(5, 4),
    "normal": Fraction(1),
    "fast": Fraction(4, 5),
}
"""The named paces and the factor each scales every anchored interval by."""
PACE_RANGE = (Fraction(1, 4), Fraction(4))
"""A pace given as a factor."""

VERBOSITIES = ("full", "brief", "minimal")
"""How much is said (``defaults.verbosity``, ``--verbosity``), the default first."""

# ---------------------------------------------------------------- session defaults
# (a routine's ``defaults:`` and the flags override them)

BREATH_DEFAULT = 10.0
BREATH_RANGE = (Fraction(2), Fraction(60))
"""Seconds per breath cycle (``defaults.breath``, ``--breath``)."""
COUNT_DEFAULT = 1.0
COUNT_RANGE = (Fraction(3, 10), Fraction(5))
"""Seconds per spoken count (``defaults.count``, ``--count``)."""
TRANSITION_DEFAULT = 5.0
TRANSITION_RANGE = (0, 120)
"""Seconds for a transition (``defaults.transition``)."""
PAUSE_DEFAULT = 1.0
PAUSE_RANGE = (0, 30)
"""Seconds of silence after each flowing spoken line (``defaults.pause``, a say step's)."""
RATE_RANGE = (60, 450)
"""Speech rate in words per minute (``defaults.rate``, ``--rate``, every engine)."""
VOLUME_RANGE = (0, 1)
"""Speech volume: more than the low end (0 is silence), at most the high end."""
MINUTES_RANGE = (1, 240)
"""``--minutes``: the session length to fit, in minutes."""
BED_VOLUME_RANGE = (-60, 0)
"""``--bed-volume``: the bed's level in dB relative to speech."""
SAMPLE_RATE_DEFAULT = 22050
"""Samples per second of a rendered session."""
BITRATE_DEFAULT = 64
"""``--bitrate``: an MP3's constant bitrate in kbit/s (one of those the sample rate
allows: :func:`matcue.mp3.allowed_bitrates`)."""

# ---------------------------------------------------------------- routine file

FORMAT_VERSION = 1
MAX_STEPS = 200
MAX_REPS = 1000
MAX_SETS = 50
MAX_ROUNDS = 100
"""Rounds of a flow or of a rounds group."""
MAX_MOVEMENTS = 50
"""Movements in one round of a flow."""
MAX_LINE = 500
MAX_TITLE = 120
MAX_SUMMARY = 200
MAX_SOURCE = 300
MAX_NAME = 80
MAX_DURATION_SECONDS = 3600.0
MAX_DURATION_BREATHS = 200.0
MAX_DURATION_COUNTS = 200
DURATION_LIMITS: dict[str, float] = {
    "seconds": MAX_DURATION_SECONDS,
    "breaths": MAX_DURATION_BREATHS,
    "counts": MAX_DURATION_COUNTS,
}
"""The largest value of a duration, by its unit."""
MAX_SESSION_SECONDS = 4 * 3600.0
"""The timed parts of a routine, or of the session the flags make of it, and the
blocks of a cue script: at most 4 hours."""
MIN_MOVING_SECONDS = 1.0
"""What a breath cycle's holds must leave for breathing in and out."""

# ---------------------------------------------------------------- inputs
# (docs/safety.md lists them for users)

MAX_ROUTINE_BYTES = 1024 * 1024
"""A routine file: 1 MiB (a routine is a few kilobytes)."""
MAX_CUE_SCRIPT_BYTES = 2 * 1024 * 1024
"""A cue script: 2 MiB (a built-in's is about 10 KB; a 4-hour session of unpaused
lines a few hundred KB)."""
MAX_PHRASES = 1000
"""Different spoken lines in one session (each is synthesized, cached, and held in
memory while the session is mixed): the built-ins have 60 to 120. At 1000 lines of
a few seconds each a render peaks near 340 MB (``make bench``, largest input);
3000 reached 1 GB and more."""
MAX_DISTINCT_SPEECH_SECONDS = 40 * 60.0
"""The different lines of a session, timed by word count at SPEECH_WPM: 40 minutes
(the built-ins say a few). Each distinct clip is held while the session is mixed, so
this, not only the number of lines, bounds memory: at 22050 Hz about 250 MB of
clips (a thousand 500-character lines, each under the phrase limit, would be GBs)."""
MODEL_ISLAND_SECONDS = 60.0
"""The loudness model mixes each unbroken run of sound whole: a run longer than this
(hundreds of lines with no pause between them) is measured by mixing in chunks
instead, so memory stays bounded (issue 14)."""
MAX_BED_SECONDS = 3600.0
"""A bed file: at most an hour of audio (a bed loops, so a short one does as well)."""
MAX_BED_WHOLE_BYTES = 256 * 1024 * 1024
"""A bed file in a format only ffmpeg reads (decoded whole, not in a stream): 256 MiB."""
MAX_CACHE_ENTRY_BYTES = 64 * 1024 * 1024
"""A cached clip: larger is taken as damaged and synthesized again (the longest line,
spoken at the slowest rate, makes about 20 MB)."""
MAX_TEMPLATE_BYTES = 256 * 1024
"""A template file: 256 KiB (the packaged ones are a few KB each)."""
TEMPLATE_SECONDS = 10.0
"""The longest the templates may take to write one cue script (the built-ins take a
few milliseconds)."""
TEMPLATE_OUTPUT_BYTES = MAX_CUE_SCRIPT_BYTES
"""The most text the templates may write: the size limit of a cue script."""
TEMPLATE_DEPTH = 60
"""Macros, callers and recursive loops inside one another, at most."""
TEMPLATE_LOADS = 500
"""Includes, imports and extends in one render, at most."""
TEMPLATE_NUMBER_BITS = 1000
"""The largest whole number a template may make (about 300 digits)."""
MAX_CHAPTERS = 255
"""Steps (chapters) in one session: ID3's table of contents counts them in one byte."""
SOUND_GAIN_RANGE = (-60, 12)
"""A cue script's ``@sound ... gain=``, in dB."""
INPUT_WAIT_SECONDS = 10.0
"""A routine or cue script read from standard input, a FIFO or a device: the longest
wait for more data before matcue gives up (it never waits for ever)."""

MAX_ERROR_LINES = 30
"""Lines of problems shown for one input (or one command), the last counting the rest."""

# ---------------------------------------------------------------- steps

CYCLE_RANGE = (2, 120)
"""A breath step's own ``cycle``, in seconds."""
SPLIT_DEFAULT = 0.5
SPLIT_RANGE = (0.2, 0.8)
"""A breath step's share of the moving time that is inhale."""
BREATH_HOLD_RANGE = (0, 60)
"""A breath step's ``hold_in`` and ``hold_out``, in seconds (and a ``pattern``'s holds)."""
PATTERN_MOVE_RANGE = (0.5, 60)
"""A breath ``pattern``'s ``inhale`` and ``exhale``, in seconds; the pattern's phases
add up to a cycle within :data:`CYCLE_RANGE`."""
BREATH_COUNT_MIN_SECONDS = Fraction(3, 4)
"""``count: true`` on a breath step: the shortest paced second a number is said in. A
phase whose seconds (as heard, after --breath and --pace) are shorter is not counted:
a calm "seven" takes about half a second to say."""
REPS_MOVE_DEFAULT = 2.0
REPS_HOLD_DEFAULT = 0.0
REPS_RELEASE_DEFAULT = 2.0
REPS_REST_DEFAULT = 2.0
REPS_SET_REST_DEFAULT = 30.0
"""A reps step's durations (seconds) when the routine leaves them out."""
REST_EVERY_DEFAULT = 45.0
REST_EVERY_RANGE = (10, 600)
"""Seconds between a rest step's calm reminders."""
REST_QUIET_END_SECONDS = 8
"""A rest step says no reminder in its last stretch: half an interval, at most this
(paced)."""
QUIET_LIMIT_SECONDS = 20
"""The longest silence in a hold that sets no ``every``: a longer silent stretch
(between "Hold here.", the form cues and the countdown) gets calm reminders spread
evenly through it, so a listener never wonders whether the track stopped (paced)."""
HOLD_EVERY_RANGE = (10, 600)
"""A hold step's ``every``: the longest silence between its calm reminders, in seconds."""
COUNTDOWN_COUNTS = 5
"""How many counts ``guide: countdown`` counts down at the end of a hold in seconds."""
TAPER_FULL_FIRST = 2
"""At full verbosity the first this many reps of a set get the full cues; after them
every third rep does, the others the short forms (see :mod:`matcue.routine.variety`)."""
SHORT_CUE_WORDS = 2
"""A cue of at most this many words is already short: tapering keeps it."""
REFINE_MIN_SECONDS = 3
"""A refinement cue needs a window (hold, rest or breath phase) at least this long."""
COUNTDOWN_FROM = 6
"""'Three to go.' is said in sets of at least this many reps ('Last one.' in sets of 3+)."""
HALFWAY_REPS = 10
"""'Halfway.' is said in sets of at least this many reps."""
HALFWAY_HOLD_SECONDS = 20
"""'Halfway.' is said in holds at least this long (seconds, paced)."""
HALFWAY_MIN_BREATHS = 5
"""...and, in a hold guided by breaths, of at least this many breaths (in three,
'Halfway.' would crowd 'Breathe in deeply.' and 'Last breath in.')."""

# ---------------------------------------------------------------- estimates

SPEECH_WPM = 160
"""Words per minute of speech as heard, for every estimate made without
synthesizing (``matcue routines``, ``--minutes`` fitting, the progress bar's
shares), fitted to the rendered length of the built-ins at the default rate
(:data:`DEFAULT_RATE`): at 160 every built-in's estimate is within 0.03 min of
its render with pyttsx3 (eSpeak), and Joe's renders differ from those by at most
0.07 min. (Sessions measure 156 wpm on both engines, words of the cues over their
trimmed seconds; the estimate's word timing is a little faster than that. It was
180 when eSpeak sessions measured 171, issue 11.) A ``--rate`` replaces it."""
DEFAULT_RATE = 155
"""The speaking rate (words per minute) when none is chosen, on every engine: calm,
as a teacher guiding a class speaks (recorded guided practice runs at about 140-160
wpm; audiobooks at 150-160). Each engine maps it to its own control through a
calibration for the voice, so 155 means 155 measured words per minute."""

# ---------------------------------------------------------------- --minutes fitting

FIT_SCALE_RANGE = (0.3, 4.0)
"""The factor elastic quantities are scaled by."""
FIT_REP_BOUNDS = (0.5, 3.0)
FIT_HOLD_BOUNDS = (0.5, 2.5)
FIT_REST_BOUNDS = (0.5, 3.0)
FIT_TRANSITION_BOUNDS = (0.5, 1.0)
"""A transition's own duration (time to fetch a band, to lie down) is only ever
shortened, at most to half, and only for a session that cannot otherwise fit."""


def span(limits: tuple[float | Fraction, float | Fraction]) -> str:
    """``"2 to 60"``: a range as help texts and messages say it."""
    return f"{_num(limits[0])} to {_num(limits[1])}"


def _num(value: float | Fraction) -> str:
    number = float(value)
    return str(int(number)) if number.is_integer() else f"{number:g}"


# ---------------------------------------------------------------- weeks and programmes

WEEK_RANGE = (1, 52)
"""``--week``: which week of a routine's ``progression:`` to render (week 1 is the
routine as written)."""
MAX_PROGRAMME_WEEKS = WEEK_RANGE[1]
"""The longest programme, in weeks."""
MAX_PROGRAMME_DAYS = 7
"""Days in a programme's weekly pattern."""
MAX_DAY_SESSIONS = 6
"""Sessions on one day of a programme."""
