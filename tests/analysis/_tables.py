"""Read a rendered paper table back into its grid (an independent parser per format), so tests
can check that the Markdown, CSV and LaTeX renderings hold the same cells."""

from __future__ import annotations

import csv
import io
import re


def unlatex(s: str) -> str:
    s = s.strip()
    for a, b in (("$-$", "-"), (r"$\pm$", "±"), ("--", "–"), (r"\%", "%"), (r"\#", "#")):
        s = s.replace(a, b)
    return s.replace(r"\_", "_").replace(r"\textsuperscript{\dag}", "†")


def from_latex(text: str):
    body = text.split("\\midrule\n", 1)[1].split("\\bottomrule")[0]
    out, group = [], ""
    for line in body.splitlines():
        if line == "\\midrule":
            continue
        m = re.match(r"\\multicolumn\{\d+\}\{l\}\{\\emph\{(.*)\}\} \\\\$", line)
        if m:
            group = unlatex(m.group(1))
            continue
        cells = [c.strip() for c in line.removesuffix(" \\\\").split(" & ")]
        label = re.sub(r"^\\textit\{(.*)\}$", r"\1", cells[0])
        row = []
        for c in cells[1:]:
            best = c.startswith("\\textbf{")
            c = c[len("\\textbf{") : -1] if best else c
            row.append((unlatex(c), best))
        out.append((group, unlatex(label), row))
    return out


def from_markdown(text: str):
    lines = [ln for ln in text.splitlines() if ln.startswith("|")][2:]
    out, group = [], ""
    for ln in lines:
        cells = [c.strip() for c in ln.strip("|").split(" | ")]
        cells = [c.strip().strip("|").strip() for c in cells]
        if cells[0].startswith("**") and all(not c for c in cells[1:]):
            group = cells[0].strip("*")
            continue
        label = cells[0].strip("*")
        row = [(c.strip("*"), c.startswith("**")) for c in cells[1:]]
        out.append((group, label, row))
    return out


def from_csv(text: str):
    rows = list(csv.reader(io.StringIO(text)))[1:]
    return [
        (g, label, [(c.removesuffix("*"), c.endswith("*")) for c in cells])
        for g, label, *cells in rows
    ]


def grid_of(table):
    out, _group, cur = [], "", None
    for g, label, _, _, text, best in table.cells():
        if cur is None or (g, label) != cur[:2]:
            cur = (g, label, [])
            out.append(cur)
        cur[2].append((text, best))
    return out
