"""Prompt -> recipe: a pure function deciding palette, time of day, mood grading, motifs and style.

The recipe depends only on the normalised prompt, the negative prompt and the chosen style (never on the
seed), so it can be unit-tested and stored with the image. The seed only moves shapes around.
"""

from __future__ import annotations

import colorsys
import hashlib
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from .lexicon import (
    ACHROMATIC,
    COLOURS,
    FALLBACK_SCENES,
    MOODS,
    MOTIFS,
    STYLE_NAMES,
    STYLES,
    THEMES,
    TIMES,
    Mood,
)

RECIPE_VERSION = "1"
GROUND_MOTIFS = ("mountains", "hills", "dunes", "city", "water", "grid", "forest", "flowers")
MOTIF_ORDER = tuple(MOTIFS)

# Per time of day: palette slot -> (hue source "p" | "s", hue offset, saturation, value).
_TEMPLATES: dict[str, dict[str, tuple[str, float, float, float]]] = {
    "day": {
        "sky_top": ("p", 0.0, 0.62, 0.86),
        "sky_horizon": ("p", -0.02, 0.22, 0.98),
        "glow": ("s", 0.0, 0.30, 1.0),
        "far": ("p", 0.02, 0.28, 0.76),
        "mid": ("p", 0.05, 0.40, 0.55),
        "near": ("p", 0.08, 0.50, 0.32),
        "water": ("p", 0.0, 0.55, 0.60),
        "accent": ("s", 0.0, 0.80, 0.98),
        "ink": ("p", 0.05, 0.60, 0.14),
    },
    "dawn": {
        "sky_top": ("p", 0.0, 0.42, 0.72),
        "sky_horizon": ("s", 0.0, 0.45, 1.0),
        "glow": ("s", 0.02, 0.30, 1.0),
        "far": ("p", 0.02, 0.25, 0.70),
        "mid": ("p", 0.03, 0.35, 0.50),
        "near": ("p", 0.05, 0.45, 0.28),
        "water": ("p", 0.0, 0.40, 0.55),
        "accent": ("s", 0.0, 0.75, 1.0),
        "ink": ("p", 0.03, 0.55, 0.12),
    },
    "sunset": {
        "sky_top": ("p", 0.0, 0.58, 0.46),
        "sky_horizon": ("s", 0.0, 0.78, 1.0),
        "glow": ("s", 0.03, 0.45, 1.0),
        "far": ("p", 0.0, 0.40, 0.52),
        "mid": ("p", 0.02, 0.50, 0.34),
        "near": ("p", 0.04, 0.60, 0.18),
        "water": ("p", 0.0, 0.50, 0.40),
        "accent": ("s", 0.0, 0.85, 1.0),
        "ink": ("p", 0.0, 0.60, 0.08),
    },
    "dusk": {
        "sky_top": ("p", 0.0, 0.62, 0.24),
        "sky_horizon": ("s", 0.0, 0.55, 0.78),
        "glow": ("s", 0.0, 0.30, 0.96),
        "far": ("p", 0.0, 0.45, 0.34),
        "mid": ("p", 0.02, 0.50, 0.21),
        "near": ("p", 0.03, 0.55, 0.11),
        "water": ("p", 0.0, 0.50, 0.28),
        "accent": ("s", 0.0, 0.80, 1.0),
        "ink": ("p", 0.0, 0.50, 0.05),
    },
    "night": {
        "sky_top": ("p", 0.0, 0.72, 0.09),
        "sky_horizon": ("p", 0.02, 0.55, 0.30),
        "glow": ("s", 0.0, 0.14, 0.98),
        "far": ("p", 0.0, 0.50, 0.20),
        "mid": ("p", 0.0, 0.50, 0.13),
        "near": ("p", 0.0, 0.55, 0.07),
        "water": ("p", 0.0, 0.60, 0.17),
        "accent": ("s", 0.0, 0.75, 1.0),
        "ink": ("p", 0.0, 0.50, 0.03),
    },
}

# With a single colour word the picture stays in its family: analogous hues only.
_HARMONIES = (0.06, -0.06, 0.1, -0.1, 0.04, -0.04)
# Hue pairs (sky, light) that always look good, for prompts that name no colour or theme.
_PAIRINGS = (
    (0.60, 0.08),
    (0.75, 0.95),
    (0.52, 0.11),
    (0.68, 0.55),
    (0.95, 0.60),
    (0.58, 0.48),
    (0.80, 0.09),
    (0.47, 0.92),
    (0.63, 0.78),
    (0.03, 0.58),
    (0.70, 0.13),
    (0.55, 0.97),
)
SKY_MOTIFS = ("flow", "stars", "aurora", "sun", "moon", "clouds")
_WORD = re.compile(r"[a-z0-9&'\-]+")


@dataclass(frozen=True)
class Recipe:
    """Everything the painter needs besides the seed and size. ``to_dict`` goes into image metadata."""

    version: str
    prompt: str
    style: str
    time: str
    primary_hue: float
    secondary_hue: float
    palette: dict[str, tuple[float, float, float]]
    motifs: tuple[str, ...]
    inferred_motifs: bool
    colours: tuple[str, ...] = ()
    themes: tuple[str, ...] = ()
    moods: tuple[str, ...] = ()
    grade: Mood = field(default_factory=Mood)
    crescent: bool = False

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["palette"] = {slot: _to_hex(rgb) for slot, rgb in self.palette.items()}
        data["motifs"] = list(self.motifs)
        for key in ("colours", "themes", "moods"):
            data[key] = list(data[key])
        data["primary_hue"] = round(self.primary_hue, 4)
        data["secondary_hue"] = round(self.secondary_hue, 4)
        return data


def normalize_prompt(prompt: str) -> str:
    """Lower case, single spaces: the form that seeds and recipes are computed from."""
    return " ".join(prompt.lower().split())


def prompt_digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


def find_terms(text: str, vocabulary: dict[str, Any] | tuple[str, ...]) -> list[str]:
    """Entries of ``vocabulary`` (words or phrases) present in ``text``, in order of first appearance."""
    words = _WORD.findall(text)
    padded = " " + " ".join(words) + " "
    singular = " " + " ".join(_singular(word) for word in words) + " "
    found: list[tuple[int, str]] = []
    for term in vocabulary:
        needle = f" {term} "
        index = padded.find(needle)
        if index < 0:
            index = singular.find(needle)
        if index >= 0:
            found.append((index, term))
    return [term for _, term in sorted(found)]


def build_recipe(prompt: str, *, negative_prompt: str = "", style: str | None = None) -> Recipe:
    """Decide what to paint. Deterministic: same arguments, same recipe."""
    text = normalize_prompt(prompt)
    negative = normalize_prompt(negative_prompt)
    digest = prompt_digest(text)

    def wanted(vocabulary: dict[str, Any]) -> list[str]:
        banned = set(find_terms(negative, vocabulary)) if negative else set()
        return [term for term in find_terms(text, vocabulary) if term not in banned]

    colours = wanted(COLOURS)
    themes = wanted(THEMES)
    moods = wanted(MOODS)
    chosen_style = _choose_style(text, style)
    motifs, inferred = _choose_motifs(text, negative, digest, chosen_style)
    time = _choose_time(text, themes, motifs, moods, digest)
    if not set(motifs) & set(SKY_MOTIFS):  # every scene gets something in its sky
        options = {"night": ("moon", "stars"), "dusk": ("clouds", "moon"), "day": ("clouds", "sun")}
        extra = options.get(time, ("sun", "clouds"))[digest[6] % 2]
        if "rain" in motifs or "snow" in motifs:
            extra = "clouds"
        banned = {name for name, words in MOTIFS.items() if negative and find_terms(negative, words)}
        if extra not in banned:
            motifs = tuple(name for name in MOTIF_ORDER if name in {*motifs, extra})
            inferred = True
    primary, secondary, saturation, brightness = _choose_hues(colours, themes, chosen_style, time, digest)
    palette = _build_palette(time, primary, secondary, saturation, brightness, colours)
    return Recipe(
        version=RECIPE_VERSION,
        prompt=text,
        style=chosen_style,
        time=time,
        primary_hue=primary,
        secondary_hue=secondary,
        palette=palette,
        motifs=motifs,
        inferred_motifs=inferred,
        colours=tuple(colours),
        themes=tuple(themes),
        moods=tuple(moods),
        grade=_combine_moods(moods),
        crescent="crescent" in text,
    )


def _singular(word: str) -> str:
    if len(word) > 3 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _choose_style(text: str, style: str | None) -> str:
    if style and style != "none":
        if style not in STYLE_NAMES:
            raise ValueError(f"unknown style {style!r}")
        return style
    by_word = {word: name for name, words in STYLES.items() for word in words}
    found = find_terms(text, by_word)
    return by_word[found[0]] if found else "none"


def _choose_motifs(text: str, negative: str, digest: bytes, style: str) -> tuple[tuple[str, ...], bool]:
    banned = {name for name, words in MOTIFS.items() if negative and find_terms(negative, words)}
    chosen = {name for name, words in MOTIFS.items() if find_terms(text, words)} - banned
    inferred = False
    if style == "synthwave":
        chosen |= {"grid", "sun"} - banned
    if "grid" in chosen and not chosen & {"moon"}:
        chosen.add("sun")
    if not chosen:
        chosen = set(FALLBACK_SCENES[digest[0] % len(FALLBACK_SCENES)]) - banned
        inferred = True
    if "flow" not in chosen and not chosen & set(GROUND_MOTIFS):
        options = [name for name in ("hills", "mountains", "water") if name not in banned] or ["hills"]
        chosen.add(options[digest[1] % len(options)])
        inferred = True
    if "boat" in chosen and "water" not in chosen:
        chosen.add("water")
    if "sun" in chosen and "moon" in chosen:
        chosen.discard("sun" if digest[2] % 2 else "moon")
    chosen -= banned
    return tuple(name for name in MOTIF_ORDER if name in chosen), inferred


def _choose_time(text: str, themes: list[str], motifs: tuple[str, ...], moods: list[str], digest: bytes) -> str:
    for term in find_terms(text, TIMES):
        return TIMES[term]
    for theme in themes:
        if THEMES[theme].time:
            return THEMES[theme].time or "day"
    if "stars" in motifs or "moon" in motifs or "aurora" in motifs or "fireflies" in motifs:
        return "night"
    if "grid" in motifs:
        return "night"
    if any(mood in ("dark", "ominous", "eerie", "mysterious") for mood in moods):
        return "dusk"
    return ("day", "day", "day", "sunset", "dawn", "dusk")[digest[3] % 6]


def _choose_hues(
    colours: list[str], themes: list[str], style: str, time: str, digest: bytes
) -> tuple[float, float, float, float]:
    chromatic = [name for name in colours if name not in ACHROMATIC]
    hues = [_hue_of(COLOURS[name]) for name in chromatic]
    saturation = brightness = 1.0
    theme = THEMES[themes[0]] if themes else THEMES.get("synthwave") if style == "synthwave" else None
    if theme:
        saturation, brightness = theme.saturation, theme.brightness
    if len(hues) >= 2:
        primary, secondary = hues[0], hues[1]
    elif len(hues) == 1:
        primary = hues[0]
        secondary = theme.secondary if theme else (primary + _HARMONIES[digest[4] % len(_HARMONIES)]) % 1.0
    elif theme:
        primary, secondary = theme.primary, theme.secondary
    else:
        pairings: tuple[tuple[float, float], ...] = _PAIRINGS
        if time in ("night", "dusk"):  # dark warm skies turn brown: keep night skies blue to violet
            pairings = tuple(pair for pair in _PAIRINGS if 0.5 <= pair[0] <= 0.85)
        primary, secondary = pairings[digest[5] % len(pairings)]
    if chromatic:
        # Pale or deep colour words (lavender, navy) carry their own saturation into the palette.
        _, light, sat = colorsys.rgb_to_hls(*(c / 255 for c in COLOURS[chromatic[0]]))
        saturation *= min(1.2, max(0.45, sat * 1.1))
        brightness *= 0.85 + 0.3 * light
    return primary, secondary, saturation, brightness


def _hue_of(rgb: tuple[int, int, int]) -> float:
    return colorsys.rgb_to_hsv(*(c / 255 for c in rgb))[0]


def _build_palette(
    time: str, primary: float, secondary: float, saturation: float, brightness: float, colours: list[str]
) -> dict[str, tuple[float, float, float]]:
    achromatic = [name for name in colours if name in ACHROMATIC]
    if achromatic and len(achromatic) == len(colours):
        saturation *= 0.25
    if "black" in achromatic or "charcoal" in achromatic:
        brightness *= 0.7
    if "white" in achromatic or "ivory" in achromatic or "cream" in achromatic:
        brightness *= 1.1
    palette = {}
    for slot, (source, offset, sat, value) in _TEMPLATES[time].items():
        hue = ((primary if source == "p" else secondary) + offset) % 1.0
        if 0.1 < hue < 0.25 and value < 0.6:  # dark yellows read as mud: lean them towards amber
            hue -= (hue - 0.07) * (1 - value / 0.6)
        rgb = colorsys.hsv_to_rgb(hue, min(1.0, sat * saturation), min(1.0, value * brightness))
        palette[slot] = (round(rgb[0], 4), round(rgb[1], 4), round(rgb[2], 4))
    return palette


def _combine_moods(moods: list[str]) -> Mood:
    if not moods:
        return Mood()
    picked = [MOODS[name] for name in moods[:3]]
    count = len(picked)
    return Mood(
        saturation=sum(m.saturation for m in picked) / count,
        brightness=sum(m.brightness for m in picked) / count,
        contrast=sum(m.contrast for m in picked) / count,
        warmth=sum(m.warmth for m in picked) / count,
        fog=max(m.fog for m in picked),
        glow=max(m.glow for m in picked),
    )


def _to_hex(rgb: tuple[float, float, float]) -> str:
    return "#" + "".join(f"{round(channel * 255):02x}" for channel in rgb)
