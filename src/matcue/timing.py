"""Exact times for the templates: :class:`Seconds`, and the session's paced
tempo (:class:`Timing`) that every step kind's plan is worked out with."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from .cuescript import format_seconds, to_fraction

if TYPE_CHECKING:
    from .routine.values import Defaults, Duration
    from .settings import Settings


class Seconds(Fraction):
    """An exact time in seconds that prints as a short decimal in templates."""

    def __str__(self) -> str:
        return format_seconds(self)

    def _wrap(op: Any) -> Any:
        def method(self, other):  # type: ignore[no-untyped-def]
            result = op(
                Fraction(self), other if not isinstance(other, float) else to_fraction(other)
            )
            return Seconds(result) if isinstance(result, Fraction) else result

        return method

    __add__ = _wrap(Fraction.__add__)
    __radd__ = _wrap(Fraction.__radd__)
    __sub__ = _wrap(Fraction.__sub__)
    __rsub__ = _wrap(Fraction.__rsub__)
    __mul__ = _wrap(Fraction.__mul__)
    __rmul__ = _wrap(Fraction.__rmul__)
    __truediv__ = _wrap(Fraction.__truediv__)
    del _wrap


def seconds(value: float | Fraction) -> Seconds:
    """``value`` (as written, e.g. 0.1 is exactly a tenth) as :class:`Seconds`."""
    return Seconds(to_fraction(value))


@dataclass(frozen=True)
class Timing:
    """The session's tempo, pace applied: what a step's plan is measured in.

    ``pace`` scales every anchored interval; ``breath`` is the unpaced breath
    cycle (a breath step's own ``cycle`` replaces it); ``cycle``, ``count`` and
    ``transition`` are paced; ``pause`` (after flowing lines) is not paced.
    ``base_breath`` is the routine's own cycle (``defaults.breath``): holds written
    for it keep their share of the cycle at another ``--breath``; ``breath_given``
    says a ``--breath`` other than the routine's was given (a breath ``pattern`` then
    takes its length)."""

    pace: Fraction
    breath: Fraction
    count: Fraction
    transition: Fraction
    pause: Seconds
    base_breath: Fraction | None = None
    breath_given: bool = False

    @property
    def breath_scale(self) -> Fraction:
        """``--breath`` over the routine's breath: what seconds written for the
        routine's breath cycle are scaled by (before the pace)."""
        return self.breath / self.base_breath if self.base_breath else Fraction(1)

    @property
    def cycle(self) -> Fraction:
        """One breath cycle as heard."""
        return self.breath * self.pace

    @classmethod
    def of(cls, settings: Settings, defaults: Defaults) -> Timing:
        """The tempo ``settings`` give (the routine's ``defaults`` merged with the
        flags: :func:`matcue.settings.merge`); ``defaults`` is the routine's own."""
        pace = settings.pace_factor
        return cls(
            pace=pace,
            breath=to_fraction(settings.breath),
            count=to_fraction(settings.count) * pace,
            transition=to_fraction(settings.transition) * pace,
            pause=Seconds(to_fraction(settings.pause)),
            base_breath=to_fraction(defaults.breath),
            # Settings carry the routine's breath when no --breath was given.
            breath_given=settings.breath != defaults.breath,
        )

    def duration(self, d: Duration) -> Seconds:
        """A routine duration in paced seconds: seconds scaled by the pace, breaths
        and counts by the paced cycle and count."""
        value = to_fraction(d.value)
        if d.unit == "breaths":
            return Seconds(value * self.cycle)
        if d.unit == "counts":
            return Seconds(value * self.count)
        return Seconds(value * self.pace)
