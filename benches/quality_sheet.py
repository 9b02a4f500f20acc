#!/usr/bin/env python3
"""Lays pictures out as docs/QUALITY.md's side-by-side sheets: a row per case, a column per method, labelled.

    python benches/quality_sheet.py --dir /tmp/quality --columns classic lucid maco lucent \\
        --cases conv1_2:5 conv3_1:5 conv4_3:20 conv5_3:100 --out docs/quality/classic-lucid-maco-lucent.png

reads `{dir}/{column}-{layer}-{filter}.png` for each cell and shows it at --tile pixels (a larger picture, such as
maco's 256 px, is shown downsampled; one with alpha, over white). Needs Pillow (the PyTorch venv of benches/README.md, plus `pip install pillow`).
"""
import argparse
from pathlib import Path

from PIL import Image, ImageDraw


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--columns", nargs="+", required=True)
    parser.add_argument("--cases", nargs="+", required=True)
    parser.add_argument("--tile", type=int, default=128)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    label, gap, top, tile = 86, 6, 16, args.tile
    sheet = Image.new("RGB", (label + len(args.columns) * (tile + gap), top + len(args.cases) * (tile + gap)), "white")
    draw = ImageDraw.Draw(sheet)
    for c, column in enumerate(args.columns):
        draw.text((label + c * (tile + gap) + tile // 2, 2), column, fill="black", anchor="mt")
    for r, case in enumerate(args.cases):
        layer, filter_ = case.split(":")
        y = top + r * (tile + gap)
        draw.text((4, y + tile // 2), case, fill="black", anchor="lm")
        for c, column in enumerate(args.columns):
            picture = Image.open(args.dir / f"{column}-{layer}-{filter_}.png").convert("RGBA")
            # A picture with a transparency map as alpha shows over white, as xplique plots it.
            picture = Image.alpha_composite(Image.new("RGBA", picture.size, "white"), picture).convert("RGB")
            if picture.size != (tile, tile):
                picture = picture.resize((tile, tile), Image.LANCZOS)
            sheet.paste(picture, (label + c * (tile + gap), y))
    sheet.save(args.out)
    print(f"wrote {args.out} ({sheet.size[0]}x{sheet.size[1]})")


if __name__ == "__main__":
    main()
