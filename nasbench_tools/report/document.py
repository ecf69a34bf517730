"""The report's index as a list of blocks, rendered as Markdown (``index.md``) and as a
self-contained HTML page (``index.html``) with the same text, tables and figures.

Blocks: headings, paragraphs (with inline ``code``, ``**bold**`` and ``[links](url)``), bullet
lists, tables (:class:`~nasbench_tools.analysis.PaperTable`) and figures (a PNG shown, its PDF
linked). The HTML page has its styles inline, loads nothing from the network and refers to its
figures by paths inside the report folder, so a browser opens it straight from the folder.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

__all__ = ["Document"]


@dataclass
class _Block:
    kind: str
    text: str = ""
    items: list = field(default_factory=list)
    table: object = None
    anchor: str = ""
    files: list = field(default_factory=list)
    details: str = ""


class Document:
    """An ordered list of blocks with two renderings (:meth:`markdown`, :meth:`html`)."""

    def __init__(self, title: str):
        self.title = title
        self.blocks: list[_Block] = []

    def heading(self, text: str, level: int = 2, anchor: str = "") -> None:
        self.blocks.append(_Block(f"h{level}", text, anchor=anchor))

    def para(self, text: str) -> None:
        self.blocks.append(_Block("p", text))

    def bullets(self, items: list[str]) -> None:
        if items:
            self.blocks.append(_Block("ul", items=list(items)))

    def table(self, table, *, details: str = "") -> None:
        """A table; ``details``: in HTML, folded under this summary line."""
        self.blocks.append(_Block("table", table=table, details=details))

    def markdown_section(self, text: str) -> None:
        """Blocks from simple Markdown (what :func:`nasbench_tools.search.search_section`
        writes): ``##``/``###`` headings, ``*`` bullets, pipe tables, ``![alt](png)`` images and
        paragraphs, so that it renders in both ``index.md`` and ``index.html``."""
        lines = text.splitlines()
        i = 0
        while i < len(lines):
            line = lines[i].rstrip()
            run = _run(lines, i, lambda x: x.startswith(("* ", "- ")))
            rows = _run(lines, i, lambda x: x.startswith("|"))
            image = _IMAGE.fullmatch(line)
            if not line:
                i += 1
                continue
            if line.startswith("#"):
                level = len(line) - len(line.lstrip("#"))
                self.heading(line[level:].strip(), level=min(max(level, 2), 3))
            elif run:
                self.bullets([x[2:] for x in run])
            elif rows:
                self.blocks.append(_Block("mdtable", items=rows))
            elif image:
                self.figure(image.group(1), [image.group(2)], image.group(1))
            else:
                self.para(line)
            i += max(len(run), len(rows), 1)

    def figure(self, caption: str, files: list[str], alt: str) -> None:
        """A figure: ``files`` are paths in the folder (the PNG is shown, every file linked)."""
        self.blocks.append(_Block("figure", caption, files=list(files), anchor=alt))

    # ------------------------------------------------------------------ Markdown
    def markdown(self) -> str:
        out = [f"# {self.title}", ""]
        for b in self.blocks:
            if b.kind.startswith("h"):
                out += ["#" * int(b.kind[1]) + " " + b.text, ""]
            elif b.kind == "p":
                out += [b.text, ""]
            elif b.kind == "ul":
                out += [f"- {i}" for i in b.items] + [""]
            elif b.kind == "table":
                out += [b.table.to_markdown().rstrip("\n"), ""]
            elif b.kind == "mdtable":
                out += [*b.items, ""]
            elif b.kind == "figure":
                png = next((f for f in b.files if f.endswith(".png")), None)
                links = ", ".join(f"[{f.rsplit('.', 1)[1].upper()}]({f})" for f in b.files)
                out += [f"{b.text} ({links}):", ""]
                if png:
                    out += [f"![{b.anchor}]({png})", ""]
        return "\n".join(out).rstrip("\n") + "\n"

    # ------------------------------------------------------------------ HTML
    def html(self) -> str:
        body = []
        for b in self.blocks:
            if b.kind.startswith("h"):
                ident = f' id="{html.escape(b.anchor)}"' if b.anchor else ""
                body.append(f"<{b.kind}{ident}>{inline(b.text)}</{b.kind}>")
            elif b.kind == "p":
                body.append(f"<p>{inline(b.text)}</p>")
            elif b.kind == "ul":
                body.append("<ul>" + "".join(f"<li>{inline(i)}</li>" for i in b.items) + "</ul>")
            elif b.kind == "mdtable":
                body.append(f'<div class="scroll">{_pipe_table_html(b.items)}</div>')
            elif b.kind == "table":
                t = f'<div class="scroll">{b.table.to_html()}</div>'
                if b.details:
                    t = f"<details><summary>{inline(b.details)}</summary>{t}</details>"
                body.append(t)
            elif b.kind == "figure":
                png = next((f for f in b.files if f.endswith(".png")), None)
                links = ", ".join(
                    f'<a href="{html.escape(f)}">{f.rsplit(".", 1)[1].upper()}</a>' for f in b.files
                )
                img = f'<img src="{html.escape(png)}" alt="{html.escape(b.anchor)}">' if png else ""
                body.append(
                    f"<figure>{img}<figcaption>{inline(b.text)} ({links})</figcaption></figure>"
                )
        return _PAGE.format(title=html.escape(self.title), body="\n".join(body))


_IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)\)")


def _run(lines: list[str], i: int, test) -> list[str]:
    """The lines from ``i`` on that pass ``test`` (stripped of trailing space)."""
    out = []
    while i < len(lines) and test(lines[i].rstrip()):
        out.append(lines[i].rstrip())
        i += 1
    return out


def _pipe_table_html(rows: list[str]) -> str:
    """A Markdown pipe table (header, ``---`` rule, rows) as an HTML table."""

    def cells(row: str) -> list[str]:
        return [c.strip() for c in row.strip().strip("|").split("|")]

    head, body = cells(rows[0]), [cells(r) for r in rows[2:]]
    th = "".join(f"<th>{inline(c)}</th>" for c in head)
    trs = "".join("<tr>" + "".join(f"<td>{inline(c)}</td>" for c in r) + "</tr>" for r in body)
    return f'<table class="paper"><thead><tr>{th}</tr></thead><tbody>{trs}</tbody></table>'


_INLINE = re.compile(r"`([^`]+)`|\*\*([^*]+)\*\*|\[([^\]]+)\]\(([^)\s]+)\)")


def inline(text: str) -> str:
    """Markdown's inline ``code``, ``**bold**`` and ``[text](url)`` as HTML; the rest escaped."""
    out, pos = [], 0
    for m in _INLINE.finditer(text):
        out.append(html.escape(text[pos : m.start()]))
        code, bold, label, url = m.groups()
        if code is not None:
            out.append(f"<code>{html.escape(code)}</code>")
        elif bold is not None:
            out.append(f"<b>{html.escape(bold)}</b>")
        else:
            out.append(f'<a href="{html.escape(url)}">{html.escape(label)}</a>')
        pos = m.end()
    out.append(html.escape(text[pos:]))
    return "".join(out)


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; line-height: 1.45;
  max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #1a1a1a; }}
h1, h2, h3 {{ line-height: 1.2; }}
h2 {{ border-bottom: 1px solid #ddd; padding-bottom: .2em; margin-top: 2em; }}
code {{ background: #f3f3f3; padding: 0 .25em; border-radius: 3px; }}
.scroll {{ overflow-x: auto; }}
table.paper {{ border-collapse: collapse; font-size: .85em; margin: .5em 0; }}
table.paper th, table.paper td {{ padding: .2em .55em; text-align: right; white-space: nowrap; }}
table.paper thead tr:last-child th {{ border-bottom: 1px solid #333; }}
table.paper thead {{ border-top: 2px solid #333; }}
table.paper tbody {{ border-bottom: 2px solid #333; }}
table.paper th.group {{ text-align: center; border-bottom: 1px solid #999; }}
table.paper tbody th {{ text-align: left; font-weight: normal; }}
table.paper tr.rowgroup th {{ text-align: left; font-style: italic; border-top: 1px solid #999; }}
table.paper tr.reference {{ font-style: italic; color: #444; }}
ul.notes {{ font-size: .85em; color: #333; }}
figure {{ margin: 1em 0; }}
figure img {{ max-width: 100%; height: auto; border: 1px solid #eee; }}
figcaption {{ font-size: .9em; color: #333; }}
details summary {{ cursor: pointer; }}
</style>
</head>
<body>
<h1>{title}</h1>
{body}
</body>
</html>
"""
