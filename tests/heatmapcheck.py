#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Checks gilstat's --heatmap SVG against its JSON reports, and a screenshot of it.

  heatmapcheck.py cells SVG REPORT HIST   the SVG has one column per report of REPORT (gilstat -j,
                                          one per line); the cells of each column are exactly the
                                          buckets of the histogram HIST (wait_ns, hold_ns, ...) of
                                          its report, so they add up to its count
  heatmapcheck.py png PNG SVG             PNG (a browser's screenshot of SVG) shows the picture:
                                          the colours of the SVG's cells are on it

Prints one line per problem, or a summary, and exits 1 if there is any problem.
"""
import json
import sys
import xml.etree.ElementTree as ET

SVG = "{http://www.w3.org/2000/svg}"


def columns(svg_path):
    root = ET.parse(svg_path).getroot()
    return root, [g for g in root.iter(SVG + "g") if g.get("class") == "column"]


def check_cells(svg_path, report_path, hist):
    root, cols = columns(svg_path)
    reports = [json.loads(line) for line in open(report_path) if line.strip()]
    problems = []
    if len(cols) != len(reports):
        problems.append(f"{len(cols)} columns for {len(reports)} reports")
    total = 0
    for i, (col, rep) in enumerate(zip(cols, reports), 1):
        cells = [r for r in col.iter(SVG + "rect") if r.get("class") == "cell"]
        got = {int(c.get("data-low")): int(c.get("data-count")) for c in cells}
        want = {b["low"]: b["count"] for b in rep[hist]["buckets"]}
        count = sum(got.values())
        total += count
        if got != want:
            problems.append(f"column {i}: cells {got} != buckets {want}")
        if count != rep[hist]["count"] or int(col.get("data-count")) != count:
            problems.append(f"column {i}: cells add up to {count}, the column says "
                            f"{col.get('data-count')}, the report {rep[hist]['count']}")
        if abs(float(col.get("data-duration-s")) - rep["duration_ns"] / 1e9) > 0.0005:
            problems.append(f"column {i}: {col.get('data-duration-s')} s wide, the report "
                            f"covers {rep['duration_ns'] / 1e9:.4f} s")
        if any(c.find(SVG + "title") is None for c in cells):
            problems.append(f"column {i}: a cell without a <title>")
    if int(root.get("data-count")) != total:
        problems.append(f"the heatmap says {root.get('data-count')} in all, its cells {total}")
    for p in problems:
        print(p)
    if not problems:
        print(f"{len(cols)} columns, {total} {hist} counts, each column its report's")
    return 1 if problems else 0


def hex_rgb(fill):
    return tuple(int(fill[i:i + 2], 16) for i in (1, 3, 5))


def check_png(png_path, svg_path):
    try:
        from PIL import Image
    except ImportError:
        print("cannot read PNG: no PIL (Debian's python3-pil)")
        return 1
    img = Image.open(png_path).convert("RGB")
    pixels = set(img.getdata())
    _, cols = columns(svg_path)
    fills = {hex_rgb(r.get("fill")) for c in cols for r in c.iter(SVG + "rect")}
    shown = fills & pixels
    # A blank or an error page has none of them; anti-aliasing may blend the odd narrow cell.
    if not fills or len(shown) < max(1, len(fills) // 2):
        print(f"{len(shown)} of the {len(fills)} cell colours are on the {img.size} picture")
        return 1
    print(f"{img.size[0]}x{img.size[1]} picture showing {len(shown)} of {len(fills)} "
          f"cell colours")
    return 0


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "cells":
        return check_cells(*sys.argv[2:])
    if len(sys.argv) == 4 and sys.argv[1] == "png":
        return check_png(*sys.argv[2:])
    sys.exit(__doc__.strip())


if __name__ == "__main__":
    sys.exit(main())
