"""Self-contained HTML pages for reports: figures embedded as PNG (no scripts, no network)."""

from __future__ import annotations

import base64
import html
import io

from matplotlib.figure import Figure

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{margin-bottom:.2em} .sub{color:#555;margin-top:0}
.banner{background:#fff3cd;border:1px solid #e0c46c;padding:.6em 1em;border-radius:6px;margin:1em 0}
.caution{background:#e8f1fb;border:1px solid #0072B2;padding:.6em 1em;border-radius:6px;margin:1em 0}
.kpis.headline{border:2px solid #0072B2;border-radius:10px;padding:.6em}
.kpis{display:flex;flex-wrap:wrap;gap:1em;margin:1em 0}
.kpi{border:1px solid #ddd;border-radius:8px;padding:.8em 1.2em;min-width:12em}
.kpi b{display:block;font-size:1.8em} .kpi span{color:#555}
table{border-collapse:collapse;margin:.5em 0} td,th{border:1px solid #ddd;padding:.3em .6em;text-align:right}
th{background:#f5f5f5} td:first-child,th:first-child{text-align:left}
table.heat td{text-align:center;font-size:.85em} table.heat caption{font-weight:600;text-align:left;margin:.8em 0 .3em}
.grid{display:flex;flex-wrap:wrap;gap:.5em}.grid img{width:49%}
img{max-width:100%} .notes{color:#555;font-size:.9em}
@media print{.banner{border:1px solid #999}}
"""


def esc(x) -> str:
    return html.escape(str(x))


def subplots(*args, figsize=None, layout=None, **kw):
    """Like pyplot.subplots, but a plain Figure: no global state, no backend switch (safe in servers, threads
    and notebooks, where `display(fig)` shows it)."""
    fig = Figure(figsize=figsize, layout=layout)
    return fig, fig.subplots(*args, **kw)


def figure(fig) -> str:
    """An <img> with the figure as an embedded PNG."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return f'<img alt="figure" src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">'


# Colour maps readable with any common colour-vision deficiency (never red against green): a sequential one
# for levels, a diverging one for changes around 0. Every value is printed as text as well.
LEVELS_CMAP, CHANGE_CMAP = "cividis", "PuOr"


def heat_table(cells: list[list[tuple[str, float]]], rows: list[str], columns: list[str], title: str,
               cmap: str = LEVELS_CMAP, vmin: float = 0, vmax: float = 4) -> str:
    """A heat map as an HTML table: each cell its text on a colour for its value (NaN: no colour). Cheaper
    than a drawn figure for many rows, and its text can be searched, copied and read aloud."""
    from matplotlib import colormaps
    from matplotlib.colors import Normalize, to_hex

    colour, norm = colormaps[cmap], Normalize(vmin, vmax)

    def td(text: str, value: float) -> str:
        if value != value:  # NaN
            return f"<td>{esc(text)}</td>"
        r, g, b, _ = colour(norm(value))
        ink = "#fff" if 0.299 * r + 0.587 * g + 0.114 * b < 0.5 else "#000"
        return f'<td style="background:{to_hex((r, g, b))};color:{ink}">{esc(text)}</td>'

    head = "".join(f"<th>{esc(c)}</th>" for c in columns)
    body = "".join(f"<tr><th>{esc(r)}</th>{''.join(td(t, v) for t, v in row)}</tr>" for r, row in zip(rows, cells))
    return (f'<table class="heat"><caption>{esc(title)}</caption><tr><th></th>{head}</tr>{body}</table>')


def kpis(items: list[tuple[str, str]], kind: str = "") -> str:
    return f'<div class="kpis {kind}">' + "".join(f'<div class="kpi"><b>{esc(v)}</b><span>{esc(k)}</span></div>'
                                          for k, v in items) + "</div>"


def table(df, float_format: str = "{:.2f}", index: bool = True) -> str:
    return df.to_html(float_format=lambda x: float_format.format(x), index=index, border=0, na_rep="–",
                      escape=True)


def caution(text: str) -> str:
    return f'<div class="caution"><b>Caution.</b> {esc(text)}</div>'


def date_axis(ax, dates, min_days: int = 14) -> None:
    """Dates on the x axis, spanning at least `min_days` (one day of data would otherwise get an axis of years)."""
    import matplotlib.dates as mdates
    import pandas as pd

    dates = pd.to_datetime(pd.Index(dates))
    if len(dates):
        lo, hi = dates.min(), dates.max()
        pad = max(pd.Timedelta(days=min_days) - (hi - lo), pd.Timedelta(0)) / 2 + pd.Timedelta(days=1)
        ax.set_xlim(lo - pad, hi + pad)
    locator = mdates.AutoDateLocator(maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


def notes(lines: list[str]) -> str:
    if not lines:
        return ""
    return '<div class="notes"><h3>Data notes</h3><ul>' + "".join(f"<li>{esc(n)}</li>" for n in lines) + "</ul></div>"


def page(title: str, subtitle: str, body: str, simulated: bool) -> str:
    banner = ('<div class="banner"><b>Simulated data.</b> Every figure on this page comes from a seeded '
              'simulated cohort, not from real learners. It shows what the report looks like.</div>'
              if simulated else "")
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{esc(title)}</title>"
            f"<style>{STYLE}</style></head><body><h1>{esc(title)}</h1><p class='sub'>{esc(subtitle)}</p>"
            f"{banner}{body}</body></html>")
