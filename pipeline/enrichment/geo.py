"""Places on a map: GPE/LOC entities resolved to coordinates with the article as context.

A bare name is ambiguous ("Santa Cruz" is a town in California, a city of two million in
Bolivia and a dozen places in between).  The article usually says which: a dateline or an
apposition ("SANTA CRUZ, Bolivia—"), or other countries it mentions.  Candidates are
scored on those clues first and on population after; everything is a dict lookup in the
process's gazetteer, so resolving costs microseconds per entity.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from pipeline.enrichment.gazetteer import Gazetteer, GeoCandidate, get_gazetteer, log_population
from schemas import Entity, GeoPoint, Place

_PLACE_LABELS = frozenset({"GPE", "LOC"})
# Bonuses on top of log10(population), which runs from 1 (a hamlet) to about 9 (China).
# A region's population is unknown (log10 of 10 counts): it beats a town of its name, not
# a city the article's context points to.
_KIND_BONUS = {"country": 10.0, "continent": 10.0, "admin1": 9.0, "region": 5.0, "city": 0.0}
_QUALIFIED_BONUS = 8.0  # "Santa Cruz, Bolivia": the article says which country
_CONTEXT_BONUS = 4.0  # the candidate's country is named elsewhere in the article
_ALTERNATE_NAME_MALUS = 1.0
# ", Bolivia" / ", N.M." right after a mention: capitalised words up to other punctuation.
_QUALIFIER = re.compile(r"\s*,\s*((?:[A-Z][\w.’']*)(?:[ \-](?:[A-Z][\w.’']*|de|del|of))*)")


def resolve_places(entities: Sequence[Entity], *, body: str) -> list[Place]:
    """One ``Place`` per resolved location, in order of first mention.

    Entities labelled GPE or LOC are looked up; names the gazetteer does not know are
    left out.  Two names for one place ("EE.UU.", "Estados Unidos") give one ``Place``
    whose ``count`` is the sum of their mentions.
    """
    gaz = get_gazetteer()
    located = [(e, gaz.places(e.text)) for e in entities if e.label in _PLACE_LABELS]
    located = [(e, c) for e, c in located if c]
    context = _countries_named(located)
    places: dict[tuple[float, float, str], Place] = {}
    for entity, candidates in sorted(located, key=lambda ec: _first(ec[0])):
        qualifiers = _qualifiers(entity, body, gaz)
        best = max(candidates, key=lambda c: _score(c, context, qualifiers))
        key = (best.lat, best.lon, best.name)
        if key in places:
            places[key].count += entity.count
            continue
        places[key] = Place(
            name=best.name,
            country_code=best.country_code,
            location=GeoPoint(lat=best.lat, lon=best.lon),
            geonames_id=best.geonames_id,
            count=entity.count,
        )
    return list(places.values())


def _first(entity: Entity) -> tuple[bool, int]:
    if not entity.mentions:
        return (False, 0)
    return (entity.mentions[0].field != "title", entity.mentions[0].start)


def _countries_named(located: list[tuple[Entity, list[GeoCandidate]]]) -> Counter[str]:
    """Countries the article names, directly or through a US state."""
    named: Counter[str] = Counter()
    for entity, candidates in located:
        top = candidates[0]
        if top.kind in ("country", "admin1", "region") and top.country_code:
            named[top.country_code] += entity.count
    return named


def _qualifiers(entity: Entity, body: str, gaz: Gazetteer) -> set[str]:
    """Country codes written right after a mention: "Santa Cruz, Bolivia", "Laredo, Texas"."""
    found: set[str] = set()
    for mention in entity.mentions:
        if mention.field != "body":
            continue
        m = _QUALIFIER.match(body, mention.end)
        if m is None:
            continue
        words = m.group(1).split()
        for n in range(len(words), 0, -1):  # longest known prefix: "New Mexico", not "New"
            name = " ".join(words[:n])
            candidates = gaz.places(name) or gaz.places(name.rstrip(".,"))
            top = candidates[0] if candidates else None
            if top and top.kind in ("country", "admin1", "region") and top.country_code:
                found.add(top.country_code)
                break
    return found


def _score(candidate: GeoCandidate, context: Counter[str], qualifiers: set[str]) -> float:
    score = log_population(candidate) + _KIND_BONUS[candidate.kind]
    if candidate.kind in ("city", "admin1", "region") and candidate.country_code:
        if candidate.country_code in qualifiers:
            score += _QUALIFIED_BONUS
        if candidate.country_code in context:
            score += _CONTEXT_BONUS
    if not candidate.primary:
        score -= _ALTERNATE_NAME_MALUS
    return score
