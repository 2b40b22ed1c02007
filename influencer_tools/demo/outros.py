"""Brand outro cards: one design per faceless creator, look-alike families, the shared brand card.

Two brand-name pools: ``BRANDS`` (the default demo, used while tuning) and ``VALIDATION_BRANDS``
(the validation demo of ``benchmarks/accuracy.py``: names, and a shared brand card, that no
threshold was ever chosen on). A look-alike *family* is a base card and its twins that a person
tells apart but a coarse hash does not: another name (same logo, slogan, layout and colours),
another colour (same text), another price (same everything else).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw

from influencer_tools.demo.backgrounds import RGB, gradient
from influencer_tools.demo.text import font

LAYOUTS = ("center", "stack", "band")
LOGOS = ("bag", "circle", "leaf", "diamond")
BRANDS = (
    "LUMORA",
    "KIVANA",
    "NESTLY",
    "PETALUX",
    "AURELO",
    "MOSSWAY",
    "ZENKIT",
    "GLOWBOX",
    "TIDEFERN",
    "ORBELLA",
)
PALETTES: tuple[tuple[tuple[RGB, RGB], RGB, RGB], ...] = (
    (((255, 255, 255), (255, 255, 255)), (236, 120, 60), (40, 40, 40)),
    (((250, 244, 236), (236, 222, 206)), (150, 96, 60), (60, 44, 34)),
    (((22, 28, 48), (40, 52, 90)), (250, 200, 80), (245, 245, 245)),
    (((228, 242, 236), (196, 226, 212)), (40, 130, 100), (30, 60, 50)),
    (((255, 236, 240), (250, 210, 222)), (210, 60, 110), (70, 30, 45)),
    (((236, 240, 255), (206, 216, 250)), (70, 90, 200), (30, 34, 70)),
)
VALIDATION_BRANDS = (
    "VANALY",
    "VESOPA",
    "QUORRA",
    "BRISKLY",
    "FENWAY",
    "OPALINE",
    "TESSERA",
    "MARLOWE",
    "CINDRA",
    "YUZUMI",
)
SLOGANS = ("Gifts that glow", "Made for moments", "Yours, forever")
PRICES = ("$29", "$49", "$59", "$79")
LOOKALIKE_ACCENTS: tuple[RGB, ...] = ((46, 150, 210), (120, 180, 60), (180, 70, 200), (220, 60, 60))
# The generic card that face videos may end with: the same for every face influencer.
SHARED_BRAND = "GIFTORA"
VALIDATION_SHARED_BRAND = "PRESENTIX"
BRAND_POOLS = {
    "default": (BRANDS, SHARED_BRAND),
    "validation": (VALIDATION_BRANDS, VALIDATION_SHARED_BRAND),
}


@dataclass(frozen=True)
class OutroDesign:
    """A brand's end card: layout, colours, logo shape, name, optional button and tagline."""

    brand: str
    layout: str
    background: tuple[RGB, RGB]
    accent: RGB
    text: RGB
    logo: str
    button: str | None
    tagline: str | None
    price: str | None = None  # a price line under the name
    variant: str = ""  # "" | "name" | "colour" | "price": how a look-alike twin differs

    @property
    def key(self) -> str:
        """A unique name of the card: the brand, plus the twin kind for same-name twins."""
        return self.brand + (f"~{self.variant}" if self.variant in ("colour", "price") else "")


def shared_brand_card(pool: str = "default") -> OutroDesign:
    """The generic brand card some face videos end with (white, orange bag, SHOP NOW)."""
    brand = BRAND_POOLS[pool][1]
    return OutroDesign(
        brand=brand,
        layout="center",
        background=((255, 255, 255), (255, 255, 255)),
        accent=(240, 130, 50),
        text=(30, 30, 30),
        logo="bag",
        button="SHOP NOW",
        tagline=f"#GiftWith{brand.capitalize()}",
    )


def lookalike_family(
    base: OutroDesign, other_name: str, rng: np.random.Generator
) -> list[OutroDesign]:
    """The base card (with a price and a slogan) and its other-name, colour and price twins."""
    slogan = SLOGANS[int(rng.integers(len(SLOGANS)))]
    price, other_price = (str(p) for p in rng.choice(PRICES, 2, replace=False))
    base = replace(base, tagline=slogan, price=price, button="SHOP NOW")
    start = int(rng.integers(len(PALETTES)))
    palette = next(p for p in PALETTES[start:] + PALETTES if p[1] != base.accent)
    return [
        base,
        replace(base, brand=other_name, variant="name"),
        replace(base, background=palette[0], accent=palette[1], text=palette[2], variant="colour"),
        replace(base, price=other_price, variant="price"),
    ]


def creator_designs(
    rng: np.random.Generator, n: int, *, lookalike: bool = True, pool: str = "default"
) -> list[OutroDesign]:
    """``n`` creator designs; with ``lookalike`` the last ones are look-alikes.

    n >= 4: the last four are a base card and its other-name, other-colour and other-price twins;
    n = 2 or 3: the last two share a layout and differ only in brand name and accent colour.
    """
    names = [str(b) for b in rng.permutation(BRAND_POOLS[pool][0])]
    if n > len(names):
        raise ValueError(f"at most {len(names)} outro designs are available, asked for {n}")
    palettes = rng.permutation(len(PALETTES))
    designs: list[OutroDesign] = []
    for i in range(n):
        background, accent, text = PALETTES[int(palettes[i % len(PALETTES)])]
        designs.append(
            OutroDesign(
                brand=names[i],
                layout=LAYOUTS[int(rng.integers(len(LAYOUTS)))],
                background=background,
                accent=accent,
                text=text,
                logo=LOGOS[int(rng.integers(len(LOGOS)))],
                button="SHOP NOW" if rng.random() < 0.6 else None,
                tagline="www." + names[i].lower() + ".com" if rng.random() < 0.5 else None,
            )
        )
    if lookalike and n >= 4:
        designs[-4:] = lookalike_family(designs[-4], names[n - 3], rng)
    elif lookalike and n >= 2:
        twin = designs[-2]
        accent = next(a for a in LOOKALIKE_ACCENTS if a != twin.accent)
        tagline = f"www.{names[n - 1].lower()}.com" if twin.tagline else None
        designs[-1] = replace(twin, brand=names[n - 1], accent=accent, tagline=tagline)
    return designs


def _logo(
    draw: ImageDraw.ImageDraw, kind: str, center: tuple[float, float], r: float, color: RGB
) -> None:
    cx, cy = center
    line = max(2, int(r / 7))
    if kind == "bag":
        draw.rounded_rectangle(
            (cx - r * 0.8, cy - r * 0.5, cx + r * 0.8, cy + r),
            radius=r * 0.15,
            outline=color,
            width=line,
        )
        draw.arc(
            (cx - r * 0.45, cy - r * 1.0, cx + r * 0.45, cy - r * 0.05),
            180,
            360,
            fill=color,
            width=line,
        )
        draw.line(
            (cx + r * 0.1, cy + r * 0.55, cx + r * 0.35, cy + r * 0.15), fill=color, width=line
        )
    elif kind == "circle":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=color)
        draw.ellipse(
            (cx - r * 0.45, cy - r * 0.45, cx + r * 0.45, cy + r * 0.45), fill=(255, 255, 255)
        )
    elif kind == "leaf":
        draw.ellipse((cx - r * 0.55, cy - r, cx + r * 0.55, cy + r), fill=color)
        draw.line((cx, cy - r * 0.8, cx, cy + r * 1.2), fill=(255, 255, 255), width=line)
    else:  # diamond
        draw.polygon([(cx, cy - r), (cx + r, cy), (cx, cy + r), (cx - r, cy)], fill=color)
        draw.polygon(
            [(cx, cy - r * 0.45), (cx + r * 0.45, cy), (cx, cy + r * 0.45), (cx - r * 0.45, cy)],
            fill=(255, 255, 255),
        )


def _centered_text(
    draw: ImageDraw.ImageDraw,
    text: str,
    at: tuple[float, float],
    size: int,
    fill: RGB,
    *,
    bold: bool = False,
) -> None:
    cx, y = at
    face = font(size)
    width = face.getlength(text)
    stroke = max(1, size // 18) if bold else 0
    draw.text(
        (cx - width / 2, y), text, font=face, fill=fill, stroke_width=stroke, stroke_fill=fill
    )


@lru_cache(maxsize=32)
def render_card(design: OutroDesign, size: tuple[int, int]) -> Image.Image:
    """The design's card as an RGB image of ``size`` (deterministic: same design, same pixels)."""
    w, h = size
    image = Image.fromarray(gradient(size, *design.background).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    unit = min(w, h * 9 / 16)
    cx = w / 2
    if design.layout == "band":
        draw.rectangle((0, h * 0.62, w, h), fill=design.accent)
        logo_y, name_y, button_y, tag_y = h * 0.34, h * 0.45, h * 0.72, h * 0.86
    elif design.layout == "stack":
        logo_y, name_y, button_y, tag_y = h * 0.22, h * 0.36, h * 0.62, h * 0.72
        draw.line(
            (cx - unit * 0.3, h * 0.5, cx + unit * 0.3, h * 0.5),
            fill=design.accent,
            width=max(2, int(unit / 120)),
        )
    else:
        logo_y, name_y, button_y, tag_y = h * 0.40, h * 0.50, h * 0.58, h * 0.66
    _logo(draw, design.logo, (cx, logo_y), unit * 0.09, design.accent)
    _centered_text(draw, design.brand, (cx, name_y), int(unit * 0.075), design.text, bold=True)
    if design.price:  # a price card's price is big, like the real ones ("Rs 999.00")
        size = int(unit * 0.1)
        _centered_text(draw, design.price, (cx, name_y + unit * 0.1), size, design.text, bold=True)
        if design.layout == "center":
            button_y, tag_y = button_y + unit * 0.13, tag_y + unit * 0.13
    if design.button:
        bs = int(unit * 0.045)
        bw = font(bs).getlength(design.button) + bs * 2
        button_fill = design.text if design.layout == "band" else design.accent
        label = design.accent if design.layout == "band" else (255, 255, 255)
        draw.rectangle((cx - bw / 2, button_y, cx + bw / 2, button_y + bs * 1.8), fill=button_fill)
        _centered_text(draw, design.button, (cx, button_y + bs * 0.35), bs, label)
    if design.tagline:
        tag_fill = (255, 255, 255) if design.layout == "band" else design.accent
        _centered_text(draw, design.tagline, (cx, tag_y), int(unit * 0.035), tag_fill)
    return image
