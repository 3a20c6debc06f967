"""The words the mood painter understands: colours, themes, moods, motifs, times of day and styles.

Every table maps a word (or a short phrase) to plain data; ``recipe.py`` turns matches into a recipe.
Keep entries generic: no named studios or living artists.
"""

from __future__ import annotations

from dataclasses import dataclass

# Colour words -> RGB. Achromatic words still carry a colour so they tint the palette honestly.
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (214, 40, 40),
    "crimson": (190, 18, 60),
    "scarlet": (232, 36, 20),
    "ruby": (170, 16, 62),
    "maroon": (120, 22, 40),
    "coral": (255, 120, 90),
    "salmon": (250, 140, 114),
    "peach": (255, 178, 140),
    "orange": (245, 130, 32),
    "tangerine": (250, 120, 20),
    "copper": (190, 100, 50),
    "rust": (170, 70, 30),
    "amber": (255, 176, 0),
    "gold": (232, 180, 40),
    "golden": (236, 184, 52),
    "yellow": (250, 214, 40),
    "lemon": (246, 230, 80),
    "lime": (170, 220, 50),
    "olive": (120, 130, 50),
    "green": (56, 160, 70),
    "emerald": (20, 150, 100),
    "jade": (40, 160, 120),
    "mint": (150, 230, 190),
    "sage": (150, 175, 140),
    "teal": (0, 128, 128),
    "turquoise": (48, 200, 190),
    "aqua": (60, 210, 220),
    "cyan": (0, 200, 230),
    "azure": (40, 140, 240),
    "blue": (40, 90, 220),
    "cobalt": (0, 70, 170),
    "sapphire": (20, 60, 170),
    "navy": (20, 30, 90),
    "indigo": (60, 30, 140),
    "violet": (140, 70, 210),
    "purple": (120, 50, 170),
    "lavender": (190, 160, 230),
    "lilac": (200, 160, 220),
    "plum": (130, 50, 110),
    "magenta": (220, 30, 160),
    "fuchsia": (240, 40, 180),
    "pink": (245, 140, 180),
    "rose": (230, 100, 130),
    "blush": (240, 180, 190),
    "brown": (120, 75, 45),
    "chocolate": (100, 55, 30),
    "beige": (220, 200, 165),
    "cream": (245, 235, 205),
    "ivory": (250, 245, 225),
    "white": (240, 242, 246),
    "silver": (190, 196, 206),
    "grey": (128, 132, 140),
    "gray": (128, 132, 140),
    "charcoal": (54, 58, 64),
    "black": (18, 18, 24),
}

ACHROMATIC = frozenset({"white", "silver", "grey", "gray", "charcoal", "black", "ivory", "cream", "beige"})


@dataclass(frozen=True)
class Theme:
    """A named palette: two hues in [0, 1) plus the time of day it implies (or None)."""

    primary: float
    secondary: float
    time: str | None = None
    saturation: float = 1.0
    brightness: float = 1.0


THEMES: dict[str, Theme] = {
    "sunset": Theme(0.78, 0.07, "sunset"),
    "sunrise": Theme(0.60, 0.09, "dawn"),
    "golden hour": Theme(0.08, 0.11, "sunset"),
    "ocean": Theme(0.57, 0.50),
    "tropical": Theme(0.50, 0.12, "day", 1.15),
    "autumn": Theme(0.07, 0.03, None, 1.1),
    "fall": Theme(0.07, 0.03),
    "spring": Theme(0.56, 0.93, "day"),
    "summer": Theme(0.55, 0.14, "day", 1.1),
    "winter": Theme(0.58, 0.62, None, 0.6, 1.05),
    "desert": Theme(0.08, 0.56, "day"),
    "neon": Theme(0.85, 0.52, "night", 1.3),
    "cyberpunk": Theme(0.88, 0.50, "night", 1.3),
    "vaporwave": Theme(0.85, 0.50, "sunset", 1.1),
    "synthwave": Theme(0.80, 0.92, "night", 1.3),
    "retrowave": Theme(0.80, 0.92, "night", 1.3),
    "fairytale": Theme(0.75, 0.90, "dawn", 0.9, 1.05),
    "anime": Theme(0.58, 0.95, "day", 1.1, 1.05),
    "ghibli": Theme(0.56, 0.25, "day", 1.05, 1.05),
    "candy": Theme(0.92, 0.50, "day", 1.1, 1.1),
    "tropics": Theme(0.50, 0.12, "day", 1.15),
    "arctic": Theme(0.55, 0.50, "day", 0.6, 1.1),
    "lava": Theme(0.02, 0.08, "night", 1.2),
    "volcano": Theme(0.02, 0.08, "night", 1.2),
    "jungle": Theme(0.48, 0.15, "day", 1.1),
    "underwater": Theme(0.52, 0.58, None, 1.0, 0.8),
}

# Time-of-day words. The value is the canonical time.
TIMES: dict[str, str] = {
    "night": "night",
    "midnight": "night",
    "nighttime": "night",
    "starry": "night",
    "moonlit": "night",
    "evening": "dusk",
    "dusk": "dusk",
    "twilight": "dusk",
    "sunset": "sunset",
    "golden hour": "sunset",
    "dawn": "dawn",
    "sunrise": "dawn",
    "morning": "dawn",
    "day": "day",
    "daytime": "day",
    "noon": "day",
    "afternoon": "day",
    "sunny": "day",
}


@dataclass(frozen=True)
class Mood:
    """How a mood grades the picture: multipliers and shifts applied at the end."""

    saturation: float = 1.0
    brightness: float = 1.0
    contrast: float = 1.0
    warmth: float = 0.0  # -1 cool .. +1 warm
    fog: float = 0.0  # 0..1 extra haze
    glow: float = 0.0  # 0..1 bloom around lights


MOODS: dict[str, Mood] = {
    "calm": Mood(0.85, 1.03, 0.9, 0.0, 0.15),
    "serene": Mood(0.8, 1.05, 0.88, 0.05, 0.2),
    "peaceful": Mood(0.85, 1.05, 0.9, 0.05, 0.15),
    "tranquil": Mood(0.82, 1.04, 0.88, 0.0, 0.2),
    "dreamy": Mood(0.8, 1.08, 0.82, 0.1, 0.35, 0.5),
    "ethereal": Mood(0.75, 1.1, 0.8, 0.0, 0.4, 0.6),
    "melancholy": Mood(0.55, 0.88, 0.95, -0.35, 0.3),
    "melancholic": Mood(0.55, 0.88, 0.95, -0.35, 0.3),
    "sad": Mood(0.5, 0.85, 0.92, -0.4, 0.25),
    "lonely": Mood(0.6, 0.9, 0.95, -0.3, 0.35),
    "gloomy": Mood(0.5, 0.78, 0.95, -0.3, 0.4),
    "moody": Mood(0.75, 0.85, 1.12, -0.15, 0.1),
    "dark": Mood(0.85, 0.7, 1.15, -0.1),
    "ominous": Mood(0.7, 0.72, 1.2, -0.2, 0.2),
    "eerie": Mood(0.6, 0.8, 1.1, -0.3, 0.45),
    "mysterious": Mood(0.8, 0.82, 1.05, -0.2, 0.4, 0.3),
    "angry": Mood(1.25, 0.9, 1.3, 0.5),
    "furious": Mood(1.35, 0.85, 1.35, 0.6),
    "tense": Mood(0.9, 0.88, 1.25, 0.1),
    "chaotic": Mood(1.3, 0.95, 1.3, 0.2),
    "energetic": Mood(1.3, 1.05, 1.15, 0.2, 0.0, 0.3),
    "vibrant": Mood(1.4, 1.05, 1.12, 0.1, 0.0, 0.3),
    "joyful": Mood(1.25, 1.1, 1.05, 0.25, 0.0, 0.3),
    "happy": Mood(1.2, 1.1, 1.05, 0.25, 0.0, 0.2),
    "cheerful": Mood(1.2, 1.1, 1.05, 0.25, 0.0, 0.2),
    "playful": Mood(1.25, 1.08, 1.05, 0.15),
    "cozy": Mood(1.0, 0.98, 0.95, 0.45, 0.1, 0.5),
    "warm": Mood(1.05, 1.02, 1.0, 0.45),
    "cold": Mood(0.8, 1.0, 1.05, -0.5),
    "nostalgic": Mood(0.75, 1.0, 0.9, 0.35, 0.2),
    "romantic": Mood(1.05, 1.04, 0.92, 0.35, 0.15, 0.5),
    "hopeful": Mood(1.1, 1.08, 1.0, 0.2, 0.05, 0.4),
    "epic": Mood(1.1, 0.95, 1.25, 0.05, 0.1, 0.3),
    "majestic": Mood(1.05, 1.0, 1.2, 0.05, 0.15, 0.3),
    "magical": Mood(1.15, 1.02, 1.0, 0.0, 0.2, 0.6),
    "mystical": Mood(1.0, 0.92, 1.0, -0.1, 0.35, 0.5),
    "foggy": Mood(0.7, 1.02, 0.8, -0.05, 0.7),
    "misty": Mood(0.72, 1.04, 0.82, -0.05, 0.6),
    "hazy": Mood(0.8, 1.04, 0.85, 0.1, 0.5),
}

# Motifs in painting order (back to front). Each entry: canonical name -> trigger words and phrases.
MOTIFS: dict[str, tuple[str, ...]] = {
    "flow": ("abstract", "flow", "flowing", "swirl", "swirls", "fluid", "marble", "psychedelic", "liquid"),
    "stars": ("star", "stars", "starry", "galaxy", "cosmos", "cosmic", "space", "milky way", "nebula", "universe"),
    "aurora": ("aurora", "northern lights", "borealis"),
    "sun": ("sun", "sunny", "sunset", "sunrise", "dawn", "golden hour", "sunlight", "sunshine", "summer"),
    "moon": ("moon", "lunar", "moonlight", "moonlit", "crescent", "full moon"),
    "clouds": ("cloud", "clouds", "cloudy", "overcast", "storm", "stormy", "sky", "skies"),
    "mountains": ("mountain", "mountains", "peak", "peaks", "alps", "summit", "cliff", "cliffs", "ridge", "volcano"),
    "hills": ("hill", "hills", "valley", "countryside", "meadow", "field", "fields", "prairie"),
    "dunes": ("desert", "dune", "dunes", "sand", "sahara"),
    "city": (
        "city",
        "skyline",
        "town",
        "buildings",
        "building",
        "street",
        "urban",
        "downtown",
        "skyscraper",
        "skyscrapers",
        "cyberpunk",
        "metropolis",
        "tokyo",
        "rooftops",
    ),
    "water": (
        "sea",
        "ocean",
        "lake",
        "river",
        "beach",
        "shore",
        "waves",
        "pond",
        "bay",
        "reflection",
        "harbor",
        "harbour",
        "coast",
        "island",
        "underwater",
        "water",
    ),
    "grid": ("synthwave", "retrowave", "outrun", "vaporwave", "grid", "80s", "retro"),
    "forest": ("forest", "forests", "tree", "trees", "woods", "woodland", "pine", "pines", "jungle", "taiga"),
    "flowers": (
        "flower",
        "flowers",
        "bloom",
        "blooming",
        "garden",
        "blossom",
        "blossoms",
        "petals",
        "roses",
        "tulips",
        "sakura",
        "cherry blossom",
        "spring",
        "wildflowers",
        "lavender field",
    ),
    "rain": ("rain", "rainy", "drizzle", "downpour", "storm", "stormy", "raindrops", "monsoon"),
    "snow": ("snow", "snowy", "snowfall", "blizzard", "winter", "frost", "frozen", "snowflakes"),
    "fireflies": ("firefly", "fireflies", "sparkles", "sparkle", "glitter", "lanterns", "fairy", "magic", "magical"),
    "house": ("house", "cabin", "cottage", "hut", "home", "farmhouse", "village", "chalet"),
    "lighthouse": ("lighthouse",),
    "boat": ("boat", "sailboat", "sailing", "ship", "yacht", "canoe", "ferry"),
    "birds": ("bird", "birds", "gull", "gulls", "seagull", "seagulls", "crow", "crows", "flock", "swallows"),
}

# Human phrases for the alt text, keyed by motif.
MOTIF_PHRASES: dict[str, str] = {
    "flow": "swirling abstract ribbons of colour",
    "stars": "a sky full of stars",
    "aurora": "curtains of aurora light",
    "sun": "a glowing sun",
    "moon": "a bright moon",
    "clouds": "soft clouds",
    "mountains": "layered mountain ridges",
    "hills": "rolling hills",
    "dunes": "sweeping sand dunes",
    "city": "a city skyline with lit windows",
    "water": "water reflecting the sky",
    "grid": "a glowing perspective grid",
    "forest": "a forest of pine silhouettes",
    "flowers": "a meadow of flowers",
    "rain": "falling rain",
    "snow": "drifting snow",
    "fireflies": "floating points of light",
    "house": "a small house with a lit window",
    "lighthouse": "a lighthouse casting its beam",
    "boat": "a sailboat on the water",
    "birds": "a flock of birds",
}

# Motifs a prompt gets when it names none, chosen by its hash so each prompt keeps its own scene.
FALLBACK_SCENES: tuple[tuple[str, ...], ...] = (
    ("sun", "mountains", "water"),
    ("moon", "stars", "hills"),
    ("clouds", "hills", "flowers"),
    ("flow",),
    ("sun", "dunes"),
    ("moon", "mountains", "forest"),
    ("clouds", "mountains", "water"),
    ("aurora", "stars", "mountains"),
)

# Style presets (also exposed as capabilities) and the words that select them from the prompt.
STYLES: dict[str, tuple[str, ...]] = {
    "watercolor": ("watercolor", "watercolour", "painterly", "aquarelle", "gouache", "ghibli", "storybook"),
    "pixel": ("pixel", "pixels", "pixelart", "8-bit", "8bit", "16-bit", "retro game", "sprite"),
    "noir": ("noir", "monochrome", "black and white", "b&w", "greyscale", "grayscale"),
    "poster": ("poster", "flat", "vector", "minimalist", "minimal", "screenprint", "travel poster"),
    "synthwave": ("synthwave", "retrowave", "outrun", "vaporwave"),
    "pastel": ("pastel", "soft colors", "soft colours", "cotton candy", "kawaii"),
    "ink": ("ink", "sketch", "etching", "engraving", "pen and ink", "linocut"),
}

STYLE_NAMES: tuple[str, ...] = ("none", *STYLES)

STYLE_PHRASES: dict[str, str] = {
    "none": "",
    "watercolor": "a watercolor style",
    "pixel": "a pixel-art style",
    "noir": "a black-and-white noir style",
    "poster": "a flat poster style",
    "synthwave": "a neon synthwave style",
    "pastel": "a soft pastel style",
    "ink": "an ink-sketch style",
}
