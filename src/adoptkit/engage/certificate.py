"""A printable certificate for a badge: an HTML page (A4 landscape), and a PDF when WeasyPrint can run.

WeasyPrint needs the system's Pango library (Debian: libpango-1.0-0). Where it is missing, the HTML is
still written and `write_certificate` says so; print the HTML from a browser instead.
"""

from __future__ import annotations

import html
from datetime import datetime
from pathlib import Path

TEMPLATE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title><style>
@page {{ size: A4 landscape; margin: 12mm; }}
body {{ font-family: Georgia, 'DejaVu Serif', serif; color: #1b1b1b; margin: 0; }}
.frame {{ border: 6px double #2e7d32; padding: 14mm 18mm; min-height: 150mm; text-align: center; }}
.kicker {{ letter-spacing: .25em; text-transform: uppercase; color: #555; font-size: 11pt; }}
h1 {{ font-size: 30pt; margin: 8mm 0 2mm; }}
.name {{ font-size: 26pt; font-style: italic; margin: 6mm 0; border-bottom: 1px solid #999; display: inline-block;
         padding: 0 10mm 2mm; }}
.desc {{ font-size: 13pt; max-width: 200mm; margin: 4mm auto; }}
.criteria {{ font-size: 10.5pt; color: #444; max-width: 200mm; margin: 4mm auto; }}
.foot {{ display: flex; justify-content: space-between; margin-top: 12mm; font-size: 10pt; color: #333; }}
.id {{ font-family: 'DejaVu Sans Mono', monospace; font-size: 8pt; color: #666; margin-top: 6mm; }}
</style></head><body><div class="frame">
<div class="kicker">Open Badge · {issuer}</div>
<h1>{title}</h1>
<div>awarded to</div>
<div class="name">{name}</div>
<p class="desc">{description}</p>
<p class="criteria">{criteria}</p>
<div class="foot"><span>Issued {date}</span><span>{issuer}</span></div>
<div class="id">Credential {cid} · verify the signed badge ({jwt}) with <code>adoptkit badges verify</code></div>
</div></body></html>
"""


def render(cred: dict, jwt_name: str = "") -> str:
    subject = cred["credentialSubject"]
    achievement = subject["achievement"]
    name = next((i["identityHash"] for i in subject.get("identifier", []) if i.get("identityType") == "name"),
                subject.get("id", ""))
    issued = datetime.fromisoformat(cred["issuanceDate"].replace("Z", "+00:00"))
    e = html.escape
    return TEMPLATE.format(title=e(achievement["name"]), name=e(name), description=e(achievement["description"]),
                           criteria=e(achievement["criteria"].get("narrative", "")),
                           issuer=e(cred["issuer"].get("name", cred["issuer"]["id"])),
                           date=issued.strftime("%d %B %Y"), cid=e(cred["id"]), jwt=e(jwt_name))


def write_certificate(cred: dict, path: str | Path, pdf: bool = True) -> tuple[Path, Path | None, str | None]:
    """Write PATH (HTML) and PATH.pdf; returns (html, pdf or None, why no PDF or None)."""
    path = Path(path)
    page = render(cred, path.with_suffix(".jwt").name)
    path.write_text(page, encoding="utf-8")
    if not pdf:
        return path, None, "PDF not requested"
    try:
        from weasyprint import HTML
    except (ImportError, OSError) as err:  # OSError: the Pango library is missing
        return path, None, f"no PDF: WeasyPrint cannot run here ({err.__class__.__name__}: {err}); print the HTML"
    out = path.with_suffix(".pdf")
    HTML(string=page).write_pdf(out)
    return path, out, None
