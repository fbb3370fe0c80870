"""Syndicated copies and near-duplicates: one story id per wire story.

A body becomes a *fingerprint*: a MinHash signature of its word 5-shingles and the LSH
band keys of that signature.  Two bodies that share a band key are candidates; a candidate
is accepted when the signatures' estimated Jaccard similarity is at least
``MIN_JACCARD``.  ``decide`` turns the band keys already recorded (a lookup the caller
backs with whatever store it has) into the article's ``story_id`` and ``duplicate_of``,
and says which band keys to record.

Band choice.  ``NUM_PERM = 128`` split into ``BANDS = 16`` bands of ``ROWS = 8``: the
S-curve's midpoint ``(1/16)**(1/8)`` is 0.707, so a pair is a candidate with probability
``1 - (1 - J**8)**16``: 0.06 at J=0.5, 0.61 at 0.7, 0.95 at 0.8, >0.999 at 0.9.  (The
datasketch optimum for threshold 0.7, equal FP/FN weights, is 14x9 — midpoint 0.75 — which
misses more copies around 0.75 for no gain, since the Jaccard check removes false
candidates anyway.)  Syndicated copies with an outlet's intro line, boilerplate and a few
edits score 0.75–0.95 on 5-shingles; unrelated articles on the same topic score below 0.1.
``MIN_JACCARD = 0.6`` sits two standard deviations of the 128-permutation estimator
(≈0.04 at J=0.7) below the band midpoint, so a true 0.7 pair is not refused by noise.

Short texts (fewer than ``MIN_WORDS`` words) have too few shingles for an estimate that
means anything: their only band is an exact hash of the normalised text.

Idempotence: a replayed article finds the bands it recorded itself.  An article that is
the first of its story (``first_id == article_id``) stays the original; a copy finds the
same entries as the first time plus the ones it recorded, which all point at the story it
chose, so the decision is the same.
"""

from __future__ import annotations

import base64
import hashlib
import re
import unicodedata
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
from datasketch import MinHash

NUM_PERM = 128
BANDS = 16
ROWS = 8
SHINGLE_WORDS = 5
MIN_WORDS = 25
MIN_JACCARD = 0.6
SEED = 20240301  # fixed: signatures must compare across processes and restarts

_WORD = re.compile(r"\w+")
_EXACT_PREFIX = "x."
# Odd multipliers that combine five word hashes into one shingle hash, position-aware
# (so "a b c d e" and "e d c b a" differ); datasketch's affine32 scheme pre-mixes it again.
_MIX = np.array([0x9E3779B1, 0x85EBCA77, 0xC2B2AE3D, 0x27D4EB2F, 0x165667B1], dtype=np.uint64)
_MASK32 = np.uint64(0xFFFFFFFF)


@dataclass(frozen=True)
class Fingerprint:
    """What dedup needs of a body: its signature (``None`` for short texts) and bands."""

    signature: tuple[int, ...] | None
    bands: tuple[str, ...]


@dataclass(frozen=True)
class BandEntry:
    """What a recorded band key points at; ``signature`` is that of the story's first
    article (``None`` for an exact-text band, or when the store does not have it)."""

    story_id: str
    first_id: str
    signature: Sequence[int] | None = None


@dataclass(frozen=True)
class Decision:
    story_id: str
    duplicate_of: str | None
    record: tuple[str, ...]  # band keys to point at (story_id, first id of the story)

    @property
    def is_original(self) -> bool:
        return self.duplicate_of is None


# --- fingerprints -----------------------------------------------------------------------


def normalise_words(text: str) -> list[str]:
    """Casefolded words without punctuation: line wrapping, quotes and dashes an outlet
    changes do not make a copy look different."""
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold())


def shingles(text: str) -> set[str]:
    """Word 5-shingles of the normalised text (the whole text if it is shorter)."""
    words = normalise_words(text)
    if len(words) <= SHINGLE_WORDS:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i : i + SHINGLE_WORDS]) for i in range(len(words) - SHINGLE_WORDS + 1)}


def signature(text: str, *, num_perm: int = NUM_PERM) -> list[int]:
    """MinHash of the text's 5-shingles (fixed seed), as plain ints.

    Shingles are hashed from per-word CRC32s combined in numpy rather than by hashing each
    joined 5-word string: the same sets, a fraction of the Python-level work.
    """
    return _signature_of_words(normalise_words(text), num_perm=num_perm)


def band_keys(sig: Sequence[int], *, bands: int = BANDS, rows: int = ROWS) -> list[str]:
    """One short key per LSH band: band number + 64 bits of a hash of its rows."""
    if bands * rows > len(sig):
        raise ValueError(f"{bands} bands x {rows} rows need {bands * rows} values, got {len(sig)}")
    values = np.asarray(sig, dtype="<u4")
    return [f"{b:x}.{_digest(values[b * rows : (b + 1) * rows].tobytes())}" for b in range(bands)]


def jaccard(sig_a: Sequence[int], sig_b: Sequence[int]) -> float:
    """Estimated Jaccard similarity: the share of positions where the signatures agree."""
    if len(sig_a) != len(sig_b) or not sig_a:
        raise ValueError("signatures differ in length")
    return float(np.count_nonzero(np.asarray(sig_a) == np.asarray(sig_b))) / len(sig_a)


def fingerprint(text: str) -> Fingerprint:
    """Signature and band keys of a body, or the exact-text band for a short one."""
    words = normalise_words(text)
    if not words:
        return Fingerprint(signature=None, bands=())
    if len(words) < MIN_WORDS:
        exact = _EXACT_PREFIX + _digest(" ".join(words).encode())
        return Fingerprint(signature=None, bands=(exact,))
    sig = tuple(_signature_of_words(words, num_perm=NUM_PERM))
    return Fingerprint(signature=sig, bands=tuple(band_keys(sig)))


def pack_signature(sig: Sequence[int]) -> str:
    """A signature as compact text (base64 of little-endian uint32s) for a JSON store."""
    return base64.b64encode(np.asarray(sig, dtype="<u4").tobytes()).decode("ascii")


def unpack_signature(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in np.frombuffer(base64.b64decode(text), dtype="<u4"))


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=8).hexdigest()


@cache
def _permutations(num_perm: int) -> tuple[np.ndarray, np.ndarray]:
    # Generating them costs more than a signature; they depend only on seed and size.
    return MinHash(num_perm, seed=SEED, scheme="affine32").permutations


def _signature_of_words(words: list[str], *, num_perm: int) -> list[int]:
    word_hashes = np.fromiter(
        (zlib.crc32(w.encode()) for w in words), dtype=np.uint64, count=len(words)
    )
    n = max(len(words) - SHINGLE_WORDS + 1, 1)
    hashes = np.zeros(n, dtype=np.uint64)
    for k in range(min(SHINGLE_WORDS, len(words))):
        hashes += word_hashes[k : k + n] * _MIX[k]  # wraps mod 2**64, then keep 32 bits
    hashes &= _MASK32
    minhash = MinHash(
        num_perm, seed=SEED, scheme="affine32", hashfunc=int, permutations=_permutations(num_perm)
    )
    if words:
        minhash.update_batch(hashes.tolist())
    return [int(v) for v in minhash.hashvalues]


# --- the decision -----------------------------------------------------------------------


def decide(
    article_id: str,
    fp: Fingerprint,
    lookup: Callable[[str], BandEntry | None],
    *,
    min_jaccard: float = MIN_JACCARD,
) -> Decision:
    """The article's story: its own, or that of the most similar story sharing a band.

    Deterministic in what ``lookup`` returns, and entries are only ever added, never
    changed, so replaying an article after a crash gives the same answer (see module doc).
    """
    found = {key: entry for key in fp.bands if (entry := lookup(key)) is not None}
    missing = tuple(key for key in fp.bands if key not in found)
    for entry in found.values():
        if entry.first_id == article_id:  # a replay of the story's first article
            return Decision(story_id=entry.story_id, duplicate_of=None, record=missing)
    candidates = []
    for key, entry in found.items():
        score = _similarity(fp, entry, exact=key.startswith(_EXACT_PREFIX))
        if score is not None and score >= min_jaccard:
            candidates.append((-score, entry.story_id, entry.first_id))
    if not candidates:
        return Decision(story_id=article_id, duplicate_of=None, record=missing)
    # Most similar first; equal scores go to the smaller story id, so the choice does not
    # depend on the order of the bands.
    _, story_id, first_id = min(candidates)
    return Decision(story_id=story_id, duplicate_of=first_id, record=missing)


def _similarity(fp: Fingerprint, entry: BandEntry, *, exact: bool) -> float | None:
    if exact:
        return 1.0  # same normalised text
    if fp.signature is None or entry.signature is None:
        return None  # nothing to check the band collision against
    if len(entry.signature) != len(fp.signature):
        return None
    return jaccard(fp.signature, entry.signature)

