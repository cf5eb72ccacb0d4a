"""A session's integrated loudness, worked out from its timeline instead of its mix.

The mixer must know the final gain before its first sample goes to the encoder.
Mixing and metering the whole session once only to learn that gain cost as long
again as the rest of the render put together, and most of it was spent on the
silence between cues. This model gets the same number from far less work:

- **Sounding islands.** Speech clips and bells are grouped into islands: runs of
  events closer together than the K-weighting filter's and the limiter's memory.
  Between islands the mix (bed and tone aside) is exact silence, so what the
  limiter and the meter's filter do to an island depends on that island alone.
  An island is mixed, limited at the candidate gain and K-weighted by itself,
  exactly as the output pass will treat it; its energy goes into the 100 ms
  sub-blocks it covers. Islands with the same content (a phrase said hundreds of
  times) are worked out once and placed at each of their positions.
- **Bed and breath tone.** Their K-weighted power per sample is measured once;
  their envelopes (ducking, breathing, fades) are sampled about every 5 ms, giving
  each sub-block's energy. Their cross terms with the speech are left out: they
  average to nothing for noise and a tone under speech.

Gating and integration are then the meter's own (:func:`gated_loudness`). The
gain is found by secant steps on loudness(gain); each step limits only the
distinct islands again. A user's bed file is not modelled (its level moves with
its content): such sessions are measured by mixing, as before.
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from matcue import __version__
from matcue.dsp import StreamingFIR
from matcue.envelopes import breath_envelope_at, duck_envelope_at, edge_fades, edge_fades_at
from matcue.limits import MODEL_ISLAND_SECONDS
from matcue.loudness import TruePeakLimiter, gated_loudness, k_weighting_fir
from matcue.mixer import Mixer
from matcue.sounds import BED_NAMES, NoiseBed, tone
from matcue.speech.cache import JsonEntries

log = logging.getLogger(__name__)

POINTS_PER_SUB_BLOCK = 21
"""Envelope samples per 100 ms sub-block for the bed and tone (every ~5 ms)."""


@dataclass
class _Island:
    """Distinct sounding content and where it occurs. Its samples are not kept (an
    hour's distinct islands are minutes of audio): :attr:`signal` mixes them anew."""

    parts: list[tuple[int, np.ndarray, float]]
    """(offset, mono samples, amplitude) of each clip or bell in the island."""
    length: int
    fades: np.ndarray | None
    peak: float = 0.0
    starts: list[int] = field(default_factory=list)
    unit: dict[int, np.ndarray] | None = None
    """Sub-block energies at gain 1, unlimited, for each placement phase ``start % step``
    (computed on first use: a few numbers per second of island, whatever its uses)."""

    @property
    def signal(self) -> np.ndarray:
        """The island's mix (float64, mono), made on each call."""
        x = np.zeros(self.length)
        for offset, arr, amp in self.parts:
            x[offset : offset + len(arr)] += amp * np.asarray(arr, dtype=np.float64)
        if self.fades is not None:
            x *= self.fades
        return x


_Source = tuple[int, int, np.ndarray, float]
"""(start, end, samples, amplitude) of a speech clip or a bell in the session."""


def _sources(mixer: Mixer) -> list[_Source]:
    """Every clip and bell of ``mixer``, in order of start (then end)."""
    sources: list[_Source] = [(s, e, clip, 1.0) for s, e, clip in mixer.speech]
    sources += [(s, e, snd, g) for s, e, snd, g in mixer.sounds]
    sources.sort(key=lambda t: (t[0], t[1]))
    return sources


def _pad(sr: int) -> int:
    """The K-weighting filter's and the limiter's memory: sounds closer than this
    are one island."""
    return len(k_weighting_fir(sr)) + TruePeakLimiter(sr, 1, 0.0).memory


def _runs(sources: list[_Source], pad: int) -> list[list[_Source]]:
    """``sources`` (in order) grouped into runs with no gap of ``pad`` or more."""
    groups: list[list[_Source]] = []
    end = -(10**18)
    for src in sources:
        if groups and src[0] < end + pad:
            groups[-1].append(src)
            end = max(end, src[1])
        else:
            groups.append([src])
            end = src[1]
    return groups


class SessionLoudness:
    """Integrated loudness of a mixer's session at any gain, without mixing it.

    ``mixer`` is a :class:`matcue.mixer.Mixer` (its timeline-derived fields are read).
    Use :meth:`applies` first: a session with a user's bed file is not modelled.
    """

    def __init__(self, mixer: Mixer) -> None:
        self.mixer = mixer
        s = mixer.settings
        self.sr = sr = mixer.sr
        self.ch = mixer.ch
        self.length = mixer.length
        self.step = int(round(0.1 * sr))
        self.n_sub = self.length // self.step
        self.fir = k_weighting_fir(sr)
        self.true_peak_db = s.true_peak_db
        self.pad = _pad(sr)
        self.fin = min(int(round(s.fade_in * sr)), self.length // 2)
        self.fout = min(int(round(s.fade_out * sr)), self.length // 2)
        self.islands = self._islands() if self.applies else []
        self.background = self._background() if self.applies else np.zeros(0)

    @property
    def applies(self) -> bool:
        return self.covers(self.mixer)

    @staticmethod
    def covers(mixer: Mixer) -> bool:
        """Whether the model can work out ``mixer``'s loudness: not with a user's bed
        file (its level moves with its content), nor when one run of sound without a
        break is longer than :data:`~matcue.limits.MODEL_ISLAND_SECONDS` (each island
        is mixed and filtered whole: a routine of hundreds of unpaused lines made one
        island of many minutes, and gigabytes of memory). Such sessions are measured
        by mixing, in chunks."""
        if mixer.bed_file is not None:
            return False
        limit = int(MODEL_ISLAND_SECONDS * mixer.sr)
        return all(
            max(e for _, e, _, _ in group) - group[0][0] <= limit
            for group in _runs(_sources(mixer), _pad(mixer.sr))
        )

    # --- islands -------------------------------------------------------------------

    def _islands(self) -> list[_Island]:
        groups = _runs(_sources(self.mixer), self.pad)
        distinct: dict[tuple[Any, ...], _Island] = {}
        for group in groups:
            a0 = group[0][0]
            a1 = max(e for _, e, _, _ in group)
            fades = edge_fades(a0, a1, self.length, self.fin, self.fout)
            key: tuple[Any, ...] = tuple((s - a0, e - s, id(arr), amp) for s, e, arr, amp in group)
            if fades is not None:
                key += (("fades", a0),)
            island = distinct.get(key)
            if island is None:
                parts = [(s - a0, arr[: e - s], amp) for s, e, arr, amp in group]
                island = distinct[key] = _Island(parts, a1 - a0, fades)
                island.peak = float(np.max(np.abs(island.signal), initial=0.0))
            island.starts.append(a0)
        return list(distinct.values())

    def _k(self, x: np.ndarray) -> np.ndarray:
        return StreamingFIR(self.fir, 1).process(x)

    def _cumulative(self, e: np.ndarray) -> np.ndarray:
        return np.concatenate([[0.0], np.cumsum(e)])

    def _blocks(self, island: _Island, cum: np.ndarray) -> dict[int, np.ndarray]:
        """Sub-block sums of the cumulative energy ``cum`` for each phase the island is
        placed at: entry ``i`` of phase ``r`` is sub-block ``start // step + i``."""
        n = len(cum) - 1
        out = {}
        for r in sorted({start % self.step for start in island.starts}):
            edges = np.clip(np.arange(-(-(r + n) // self.step) + 1) * self.step - r, 0, n)
            out[r] = cum[edges[1:]] - cum[edges[:-1]]
        return out

    def _unit(self, island: _Island) -> dict[int, np.ndarray]:
        """The island's sub-block energies at gain 1, unlimited, including the filter's
        ring-out after it."""
        if island.unit is None:
            k = self._k(np.concatenate([island.signal, np.zeros(len(self.fir))]))
            island.unit = self._blocks(island, self._cumulative(k * k * self.ch))
        return island.unit

    def _limited_regions(self, signal: np.ndarray, gain: float) -> list[tuple[int, int]]:
        """Stretches ``[r0, r1)`` of the island where the limiter may act at ``gain``:
        blocks whose peak could reach the ceiling, widened by the limiter's memory.
        Outside them its gain is exactly 1 (see :meth:`TruePeakLimiter.passes_unchanged`).
        The island's mono ``signal`` is read."""
        probe = TruePeakLimiter(self.sr, 1, self.true_peak_db)
        blk = 256
        x = np.abs(signal)
        nb = -(-len(x) // blk)
        padded = np.zeros((nb + 1) * blk)
        padded[: len(x)] = x
        bmax = padded.reshape(nb + 1, blk).max(axis=1) * gain
        hot = np.flatnonzero(~probe.passes_unchanged(np.maximum(bmax[:-1], bmax[1:])))
        regions: list[tuple[int, int]] = []
        reach = probe.memory
        for j in hot.tolist():
            r0 = max(0, j * blk - reach)
            r1 = min(len(x), (j + 2) * blk + reach)
            # Closer than the filter's length, two stretches' ring-outs would overlap.
            if regions and r0 <= regions[-1][1] + len(self.fir):
                regions[-1] = (regions[-1][0], max(regions[-1][1], r1))
            else:
                regions.append((r0, r1))
        return regions

    def _island_energy(self, island: _Island, gain: float) -> dict[int, np.ndarray]:
        """Sub-block energies of the island at ``gain`` through the limiter, by phase.

        Where the limiter acts, the output is ``g x + d`` with ``d`` non-zero only
        there; K-weighting is linear, so the energy is the unlimited one plus
        ``2 K(g x) K(d) + K(d)^2`` over the stretch and the filter's ring-out.
        """
        g2 = gain * gain
        unit = {r: blocks * g2 for r, blocks in self._unit(island).items()}
        if TruePeakLimiter(self.sr, 1, self.true_peak_db).passes_unchanged(island.peak * gain):
            return unit
        x = island.signal
        f = len(self.fir)
        extra = np.zeros(len(x) + f)
        for r0, r1 in self._limited_regions(x, gain):
            limiter = TruePeakLimiter(self.sr, 1, self.true_peak_db)
            gx = gain * x[r0:r1]
            y = np.concatenate([limiter.process(gx), limiter.flush()])[limiter.delay :]
            # Both filtered at once: column 0 is g x from f samples before the stretch
            # to f after it (K(g x) there needs them), column 1 is d, zero outside it.
            lo = max(0, r0 - f)
            both = np.zeros((r1 + f - lo, 2))
            seg = x[lo : min(len(x), r1 + f)]
            both[: len(seg), 0] = gain * seg
            both[r0 - lo : r1 - lo, 1] = y - gx
            k = StreamingFIR(self.fir, 2).process(both)[r0 - lo :]
            kgx, kd = k[:, 0], k[:, 1]
            extra[r0 : r1 + f] += (2.0 * kgx * kd + kd * kd) * self.ch
        more = self._blocks(island, self._cumulative(extra))
        return {r: unit[r] + more[r] for r in unit}

    def _place(self, out: np.ndarray, blocks: dict[int, np.ndarray], start: int) -> None:
        """Add an island's sub-block energies (:meth:`_blocks`) at ``start``."""
        j0 = start // self.step
        vec = blocks[start % self.step][: max(0, self.n_sub - j0)]
        out[j0 : j0 + len(vec)] += vec

    # --- bed and tone ------------------------------------------------------------------

    def _power(self, x: np.ndarray) -> float:
        """Mean K-weighted energy per sample (summed over channels) of a steady signal."""
        x = x[:, None] if x.ndim == 1 else x
        k = StreamingFIR(self.fir, x.shape[1]).process(x)[len(self.fir) :]
        return float(np.mean(np.sum(k * k, axis=1)))

    def _background(self) -> np.ndarray:
        """Per-sub-block energy of the bed and the breath tone at gain 1."""
        m, s = self.mixer, self.mixer.settings
        out = np.zeros(self.n_sub)
        if self.n_sub == 0 or not (m.segments or s.bed):
            return out
        k = POINTS_PER_SUB_BLOCK
        offsets = (np.arange(k) + 0.5) * (self.step / k)
        pos = (np.arange(self.n_sub)[:, None] * self.step + offsets[None, :]).ravel()
        session = edge_fades_at(pos, self.length, self.fin, self.fout) ** 2

        def per_sub_block(weight: np.ndarray) -> np.ndarray:
            mean: np.ndarray = (weight * session).reshape(self.n_sub, k).mean(axis=1)
            return mean * self.step

        if m.segments:
            t = tone(0, 4 * self.sr, self.sr)[:, None]
            power = self._power(np.repeat(t, self.ch, axis=1))
            env = breath_envelope_at(m.segments, pos, self.sr)
            out += power * m.tone_amp**2 * per_sub_block(env * env)
        if s.bed in BED_NAMES:
            power = self._power(NoiseBed(s.bed, self.sr, self.ch).read(5 * self.sr))
            d = duck_envelope_at(m.duck, pos, m.attack, m.release)
            g = m.bed_gain * 10.0 ** (-s.duck_db * d / 20.0)
            g = g * edge_fades_at(pos, self.length, m.bed_fade, m.bed_fade)
            out += power * per_sub_block(g * g)
        return out

    # --- the model ---------------------------------------------------------------------

    def sub_block_energies(self, gain_db: float, *, limited: bool = True) -> np.ndarray:
        """K-weighted energy of each complete 100 ms sub-block of the output at
        ``gain_db``; with ``limited=False``, as if there were no limiter."""
        gain = 10.0 ** (gain_db / 20.0)
        out = self.background * (gain * gain)
        for island in self.islands:
            if limited:
                blocks = self._island_energy(island, gain)
            else:
                blocks = {r: b * (gain * gain) for r, b in self._unit(island).items()}
            for start in island.starts:
                self._place(out, blocks, start)
        return out

    def loudness(self, gain_db: float, *, limited: bool = True) -> float:
        """Integrated loudness (LUFS) of the finished session at ``gain_db``."""
        return gated_loudness(self.sub_block_energies(gain_db, limited=limited), self.step)


def solve_gain(model: SessionLoudness, target: float, max_gain_db: float) -> tuple[float, float]:
    """The gain (dB) that brings the modelled session to ``target`` LUFS, and the
    loudness the model expects there (a session with nothing audible gets 0 dB).

    Without the limiter, loudness moves dB for dB with the gain, so one unlimited
    evaluation gives the starting gain. The limiter then takes a little off (a few
    tenths of a LU for speech); that loss barely changes over the small step that
    makes up for it, so one limited evaluation usually settles it. A larger loss
    gets secant steps on loudness(gain).
    """
    free = model.loudness(0.0, limited=False)
    if not math.isfinite(free):
        return 0.0, free
    gain = min(max_gain_db, target - free)
    got = model.loudness(gain)
    loss = (free + gain) - got
    if not math.isfinite(got) or loss < 0.3:
        return min(max_gain_db, gain + max(0.0, loss)), got + max(0.0, loss)
    prev = (gain, got)
    gain = min(max_gain_db, gain + loss)
    for attempt in range(6):
        got = model.loudness(gain)
        if abs(target - got) < 0.02 or attempt == 5:
            break
        slope = min(1.0, max(0.2, (got - prev[1]) / (gain - prev[0])))
        new = min(max_gain_db, gain + (target - got) / slope)
        if new == gain:
            break
        prev, gain = (gain, got), new
    return gain, got


# --- the gain, remembered ------------------------------------------------------------

GAIN_CACHE_VERSION = 1
"""Part of every gain cache key: bump it when the model or the mixer changes output."""


def session_key(mixer: Mixer) -> str:
    """A digest of everything the session's loudness depends on: the mix settings,
    the length and format, where every clip, bell and breath phase sits, and the
    samples of every distinct clip and bell."""
    h = hashlib.sha256()
    h.update(f"matcue gain {GAIN_CACHE_VERSION} {__version__}\n".encode())
    h.update(repr(sorted(asdict(mixer.settings).items())).encode())
    h.update(f"{mixer.sr} {mixer.ch} {mixer.length}\n".encode())
    digests: dict[int, str] = {}

    def digest(arr: np.ndarray) -> str:
        d = digests.get(id(arr))
        if d is None:
            d = digests[id(arr)] = hashlib.sha256(np.ascontiguousarray(arr).tobytes()).hexdigest()
        return d

    for s, e, clip in mixer.speech:
        h.update(f"speech {s} {e} {digest(clip)}\n".encode())
    for s, e, snd, g in mixer.sounds:
        h.update(f"sound {s} {e} {digest(snd)} {g!r}\n".encode())
    for seg in mixer.segments:
        h.update(f"tone {seg!r}\n".encode())
    return h.hexdigest()


class GainCache:
    """Final gains of rendered sessions, on disk beside the clip cache
    (``gains/KEY.json``). A gain is a pure function of :func:`session_key`'s
    inputs, so rendering the same session again skips working it out, and gives
    the very same bytes. Unreadable entries are misses; write failures are ignored."""

    def __init__(self, root: Path | None = None) -> None:
        self.entries = JsonEntries("gains", root)

    def path_for(self, key: str) -> Path:
        return self.entries.path_for(key)

    def get(self, key: str) -> float | None:
        entry = self.entries.read(key)
        try:
            gain = float(entry["gain_db"])
        except (KeyError, TypeError, ValueError):
            return None
        return gain if math.isfinite(gain) else None

    def put(self, key: str, gain_db: float, how: str) -> None:
        self.entries.write(key, {"gain_db": gain_db, "how": how})
