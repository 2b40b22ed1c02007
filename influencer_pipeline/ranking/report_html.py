"""The report's HTML page: self-contained (inline CSS, base64 images), safe to open.

Every piece of text on the page goes through ``_e``: ``display.show`` (secrets redacted, control
characters and escape sequences made visible, length capped), then ``html.escape``. A video URL
is a link only when it is http(s)/file, printable and carries no credential or signed token.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
from PIL import Image

from influencer_pipeline.display import is_redacted, show
from influencer_pipeline.ranking.report_data import (
    DEFAULT_TITLE,
    METHOD_LABELS,
    OUTRO_NOTE,
    PERFORMANCE_MEANING,
    _flag,
    _flags,
    _percent,
    display_name,
    finite_or,
    indistinct_note,
    mean_and_format,
    not_ranked_videos,
)

THUMBNAIL_MAX_SIDE = 192  # px; thumbnails are re-encoded to this size to keep the page small
THUMBNAIL_QUALITY = 85
LINK_SCHEMES = ("http", "https", "file")  # video URLs shown as links; others as plain text
TEXT_LIMIT = 500  # characters of any text shown (names, errors)
URL_LIMIT = 200  # characters of a URL shown in a table
FULL_URL_LIMIT = 4200  # characters of a URL in its tooltip


def thumbnail_data_uri(data: object, max_side: int = THUMBNAIL_MAX_SIDE) -> str | None:
    """A base64 JPEG data URI of image bytes ``data`` scaled to ``max_side``; None if unusable."""
    if data is None or not isinstance(data, bytes | bytearray | memoryview) or not len(data):
        return None
    try:
        with Image.open(io.BytesIO(bytes(data))) as image:
            image.load()
            picture = image.convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError):
        return None
    picture.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    picture.save(out, format="JPEG", quality=THUMBNAIL_QUALITY, optimize=True)
    return "data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode("ascii")


CSS = """
:root{--ink:#1f2937;--muted:#6b7280;--line:#e5e7eb;--face:#2563eb;--outro:#d97706;
--good:#15803d;--mean:#dc2626;--bg:#f8fafc}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:14px/1.45 system-ui,-apple-system,
"Segoe UI",Roboto,"DejaVu Sans",Arial,sans-serif}
main{max-width:1400px;margin:0 auto;padding:20px 20px 48px}
h1{font-size:26px;margin:0 0 4px}h2{font-size:19px;margin:32px 0 8px}
.source{color:var(--muted);margin:0 0 14px;word-break:break-all}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:10px 0 16px}
.card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:8px 14px;
min-width:150px}
.card b{display:block;font-size:20px}.card span{color:var(--muted);font-size:12px}
.card.warn b{color:#b91c1c}
.explain{background:#fff;border:1px solid var(--line);border-radius:8px;padding:12px 16px;
max-width:1100px}
.explain p{margin:0 0 8px}.explain ul{margin:0;padding-left:18px}.explain li{margin:2px 0}
.wrap{overflow-x:auto;background:#fff;border:1px solid var(--line);border-radius:8px;
margin-top:16px}
table{border-collapse:collapse;width:100%}
th,td{padding:8px 8px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
th{background:#f1f5f9;font-size:12px;text-transform:uppercase;letter-spacing:.03em;
color:#374151;white-space:nowrap}
th.sortable{cursor:pointer}th.sortable:hover{background:#e2e8f0}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.rank{font-size:20px;font-weight:700;color:#111827}
.pic{width:76px;height:96px;border-radius:6px;border:1px solid var(--line);display:block;
object-fit:cover;background:#f3f4f6}
.pic.outro{object-fit:contain;background:#111}
.nopic{display:flex;align-items:center;justify-content:center;text-align:center;color:var(--muted);
font-size:11px;padding:4px}
code,.id{font-family:"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:12.5px}
.id{font-weight:600;font-size:14px}.name{font-weight:700;font-size:15px}
.id.sub{font-weight:400;font-size:12px}
.badge{display:inline-block;border-radius:999px;padding:1px 8px;font-size:11.5px;margin:3px 4px 0 0;
border:1px solid currentColor;white-space:nowrap}
.badge.face{color:var(--face)}.badge.outro{color:var(--outro)}
.badge.star{color:#fff;background:var(--good);border-color:var(--good)}
.score{font-size:18px;font-weight:700}.sub{color:var(--muted);font-size:12px;white-space:normal}
td.num .sub{white-space:nowrap}
.bar{position:relative;height:22px;width:220px;margin-top:4px;background:#f3f4f6;border-radius:4px}
.bar .ci{position:absolute;top:7px;height:8px;border-radius:4px;min-width:3px;opacity:.45}
.bar .ci.face{background:var(--face)}.bar .ci.outro{background:var(--outro)}
.bar .vid{position:absolute;top:2px;width:5px;height:5px;margin-left:-2.5px;border-radius:50%;
background:#6b7280;opacity:.7}
.bar .mu{position:absolute;top:0;bottom:0;border-left:2px dashed var(--mean)}
.bar .pt{position:absolute;top:6px;width:10px;height:10px;margin-left:-5px;border-radius:50%;
background:#111827;border:2px solid #fff}
.axis{position:relative;height:16px;width:220px;font-size:10.5px;color:var(--muted);
text-transform:none;letter-spacing:0;font-weight:400}
.axis span{position:absolute;top:0;white-space:nowrap}
.axis .mu{color:var(--mean);transform:translateX(-50%)}
.axis .hi{right:0}.axis .lo{left:0}
#board tr.main td{border-bottom:0}#board tr.main td[rowspan]{border-bottom:1px solid var(--line)}
#board tr.vids td{padding:0 8px 10px;vertical-align:bottom}
details summary{cursor:pointer;color:#1d4ed8;font-size:13px}
table.videos{width:auto;margin:4px 0 2px;font-size:12.5px}
table.videos th{background:none;font-size:11px;padding:2px 10px 2px 0}
table.videos td{padding:2px 10px 2px 0;border-bottom:1px solid #f1f5f9}
.videos a,.url{display:inline-block;max-width:620px;overflow:hidden;text-overflow:ellipsis;
vertical-align:bottom;white-space:nowrap}
.perf{font-weight:600}
.flag{display:inline-block;font-size:11px;border-radius:4px;padding:0 5px;margin-left:6px;
background:#fef3c7;color:#92400e}
.empty{background:#fff;border:1px dashed #cbd5e1;border-radius:8px;padding:28px;
text-align:center;font-size:16px;color:#374151;margin-top:16px}
.plot{max-width:100%;height:auto;background:#fff;border:1px solid var(--line);border-radius:8px}
.failed td.err{color:#b91c1c;white-space:normal;min-width:260px}
.legend i{display:inline-block;vertical-align:middle;margin:0 4px}
.legend .l-ci{width:26px;height:8px;border-radius:4px;background:var(--face);opacity:.45}
.legend .l-mu{height:14px;border-left:2px dashed var(--mean)}
.legend .l-pt{width:10px;height:10px;border-radius:50%;background:#111827}
.legend .l-vid{width:5px;height:5px;border-radius:50%;background:#6b7280}
footer{margin-top:36px;color:var(--muted);font-size:12px}
.banner{background:#fff7ed;border:1px solid #fdba74;color:#9a3412;border-radius:8px;
padding:10px 14px;margin:10px 0;max-width:1100px}
"""

SORT_SCRIPT = """
(function(){var table=document.getElementById('board');if(!table)return;
document.querySelectorAll('#board th[data-key]').forEach(function(th){
th.classList.add('sortable');th.title='Click to sort';
th.addEventListener('click',function(){var key=th.dataset.key,
dir=th.dataset.dir==='asc'?'desc':'asc';th.dataset.dir=dir;
var rows=Array.prototype.slice.call(table.tBodies);rows.sort(function(a,b){
var x=a.dataset[key],y=b.dataset[key],nx=parseFloat(x),ny=parseFloat(y),c;
if(isNaN(nx)&&isNaN(ny)){c=String(x).localeCompare(String(y));}
else{c=(isNaN(nx)?-Infinity:nx)-(isNaN(ny)?-Infinity:ny);}
return dir==='asc'?c:-c;});rows.forEach(function(r){table.appendChild(r);});});});})();
"""


def _e(value: object, limit: int = TEXT_LIMIT) -> str:
    """``value`` as HTML text: made safe to show (``display.show``), then HTML-escaped."""
    return html.escape(show(value, limit), quote=True)


def _link(url: object) -> str:
    """The URL as a link when it is safe to link and carries no secret, else as plain text.

    A URL with credentials or a signed token is shown redacted (``display.redact``), and a
    redacted URL is no use as a link, so it is plain text with a note.
    """
    text = "" if url is None or (isinstance(url, float) and math.isnan(url)) else str(url)
    scheme = urlsplit(text).scheme.lower() if text else ""
    shown, full = _e(text, URL_LIMIT), _e(text, FULL_URL_LIMIT)
    secret = is_redacted(text)
    if scheme in LINK_SCHEMES and not secret and text.isprintable():
        return (
            f'<a href="{html.escape(text, quote=True)}" title="{full}" target="_blank" '
            f'rel="noopener noreferrer">{shown}</a>'
        )
    note = '<span class="flag">credentials hidden</span>' if secret else ""
    return f'<span class="url" title="{full}">{shown}</span>{note}'


class _Axis:
    """Maps values to percentages of the interval-bar width."""

    def __init__(self, values: Iterable[float]) -> None:
        finite = [float(v) for v in values if v is not None and np.isfinite(v)]
        low, high = (min(finite), max(finite)) if finite else (0.0, 1.0)
        pad = (high - low) * 0.04 or max(abs(high) * 0.1, 1.0)
        self.low, self.high = low - pad, high + pad

    def pct(self, value: float) -> float:
        return round(100.0 * (value - self.low) / (self.high - self.low), 2)


def _bar(
    row: pd.Series, perf: list[float], axis: _Axis, mu: float | None, fmt: Callable[[object], str]
) -> str:
    left, right = axis.pct(row["score_low"]), axis.pct(row["score_high"])
    parts = [
        f'<div class="bar" title="score {fmt(row["score"])}, 95 % interval '
        f'{fmt(row["score_low"])} to {fmt(row["score_high"])}; dots: the {len(perf)} videos">'
    ]
    parts += [f'<span class="vid" style="left:{axis.pct(p)}%"></span>' for p in perf]
    parts.append(
        f'<span class="ci {_e(row["method"])}" '
        f'style="left:{left}%;width:{round(right - left, 2)}%"></span>'
    )
    if mu is not None:
        parts.append(f'<span class="mu" style="left:{axis.pct(mu)}%"></span>')
    parts.append(f'<span class="pt" style="left:{axis.pct(row["score"])}%"></span></div>')
    return "".join(parts)


def _name_cell(row: pd.Series) -> str:
    name = display_name(row)
    if name == str(row["influencer_id"]):
        return f'<div class="id">{_e(name)}</div>'
    return f'<div class="name">{_e(name)}</div><div class="id sub">{_e(row["influencer_id"])}</div>'


def _picture(row: pd.Series) -> str:
    method = str(row["method"])
    what = "face" if method == "face" else "outro card"
    uri = thumbnail_data_uri(row["thumbnail"])
    if uri is None:
        return f'<div class="pic nopic" title="no {what} picture stored">no {what} picture</div>'
    return (
        f'<img class="pic {_e(method)}" src="{uri}" alt="{what} of {_e(display_name(row))}" '
        f'width="76" height="96">'
    )


def _video_list(ids: list[str], by_id: dict[str, dict], fmt: Callable[[object], str]) -> str:
    """The influencer's videos, best first, in a collapsible table (closed by default)."""
    known = [by_id[v] for v in ids if v in by_id]
    unknown = sorted(v for v in ids if v not in by_id)
    known.sort(key=lambda r: (-finite_or(r["performance"], -math.inf), r["video_id"]))
    rows = []
    for video in known:
        flags = []
        duplicate = video.get("duplicate_of")
        if isinstance(duplicate, str) and duplicate:
            flags.append(f'<span class="flag">re-upload of <code>{_e(duplicate)}</code></span>')
        n_rows = video.get("n_rows")
        if n_rows is not None and not pd.isna(n_rows) and int(n_rows) > 1:
            flags.append(f'<span class="flag">{int(n_rows)} sheet rows</span>')
        if _flag(video.get("score_conflict")):
            flags.append('<span class="flag">sheet rows disagree on the score</span>')
        rows.append(
            f'<tr data-video="{_e(video["video_id"])}"><td class="num perf">'
            f"{fmt(video['performance'])}</td><td><code>{_e(video['video_id'])}</code></td>"
            f"<td>{_link(video['video_url'])}{''.join(flags)}</td></tr>"
        )
    rows += [
        f'<tr data-video="{_e(v)}"><td class="num perf">—</td><td><code>{_e(v)}</code></td>'
        '<td><span class="flag">not in the video table</span></td></tr>'
        for v in unknown
    ]
    reuploads = sum(1 for v in known if isinstance(v.get("duplicate_of"), str))
    label = f"{len(ids)} video{'s' if len(ids) != 1 else ''}"
    if reuploads:
        label += f", {reuploads} re-upload{'s' if reuploads != 1 else ''}"
    return (
        f'<details><summary>Videos ({label})</summary><table class="videos"><thead><tr>'
        '<th class="num">Performance</th><th>Video</th><th>URL</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></details>"
    )


def _data_attr(value: object) -> str:
    number = finite_or(value, math.nan)
    return "" if math.isnan(number) else repr(round(number, 10))


def _board(
    ranked: pd.DataFrame, videos: pd.DataFrame, mu: float | None, fmt: Callable[[object], str]
) -> str:
    by_id = {r["video_id"]: r for r in videos.to_dict("records")}
    perf_of = {
        row.influencer_id: [
            float(by_id[v]["performance"])
            for v in row.video_ids
            if v in by_id and np.isfinite(finite_or(by_id[v]["performance"], math.nan))
        ]
        for row in ranked.itertuples(index=False)
    }
    axis_values = [*ranked["score_low"], *ranked["score_high"], *(mu,) * (mu is not None)]
    axis_values += [p for values in perf_of.values() for p in values]
    axis = _Axis(axis_values)
    mu_label = (
        f'<span class="mu" style="left:{axis.pct(mu)}%">mean {fmt(mu)}</span>'
        if mu is not None
        else ""
    )
    head = (
        "<thead><tr>"
        '<th class="num" data-key="rank">Rank</th><th>Face / card</th>'
        '<th data-key="id">Influencer</th>'
        f'<th data-key="score">Score &amp; 95 % interval<div class="axis"><span class="lo">'
        f'{fmt(axis.low)}</span>{mu_label}<span class="hi">{fmt(axis.high)}</span></div></th>'
        '<th class="num" data-key="n">n</th><th class="num" data-key="mean">Mean</th>'
        '<th class="num" data-key="sd">Spread<br>(sd)</th>'
        '<th class="num" data-key="shrinkage">Shrinkage</th>'
        '<th class="num" data-key="consistency">Consistency</th>'
        "</tr></thead>"
    )
    rows = []
    for _, row in ranked.iterrows():
        method = str(row["method"])
        n = int(row["n_videos"])
        badges = [
            f'<span class="badge {_e(method)}"'
            + (f' title="{_e(OUTRO_NOTE)}"' if method == "outro" else "")
            + f">{_e(METHOD_LABELS[method])}</span>"
        ]
        if _flag(row["consistently_above_average"]):
            badges.append(
                '<span class="badge star" title="the 95 % interval of the mean lies entirely '
                'above the overall mean">consistently above average</span>'
            )
        reuploads = int(finite_or(row.get("n_reuploads"), 0))
        n_detail = (
            f'<div class="sub">{reuploads} re-upload{"s" if reuploads != 1 else ""}</div>'
            if reuploads > 0
            else ""
        )
        std = row["std_performance"]
        sd_detail = (
            '<div class="sub" title="range: lowest – highest video">'
            f"{fmt(row['min_performance'])} – "
            f"{fmt(row['max_performance'])}</div>"
            if n > 1
            else '<div class="sub">one video</div>'
        )
        consistency = finite_or(row["consistency"], math.nan)
        above = round(consistency * n) if np.isfinite(consistency) else None
        rows.append(
            f'<tbody class="inf" data-rank="{int(row["rank"])}" '
            f'data-id="{_e(display_name(row))}" data-score="{_data_attr(row["score"])}" '
            f'data-n="{n}" data-mean="{_data_attr(row["mean_performance"])}" '
            f'data-sd="{_data_attr(std)}" data-shrinkage="{_data_attr(row["shrinkage"])}" '
            f'data-consistency="{_data_attr(row["consistency"])}">'
            f'<tr id="inf-{_e(row["influencer_id"])}" class="main">'
            f'<td class="num rank" rowspan="2">{int(row["rank"])}</td>'
            f'<td rowspan="2">{_picture(row)}</td>'
            f"<td>{_name_cell(row)}{''.join(badges)}</td>"
            f'<td><span class="score">{fmt(row["score"])}</span> <span class="sub">'
            f"({fmt(row['score_low'])} – {fmt(row['score_high'])})</span>"
            f"{_bar(row, perf_of[row['influencer_id']], axis, mu, fmt)}</td>"
            f'<td class="num">{n}{n_detail}</td>'
            f'<td class="num">{fmt(row["mean_performance"])}<div class="sub">median '
            f"{fmt(row['median_performance'])}</div></td>"
            f'<td class="num">{fmt(std)}{sd_detail}</td>'
            f'<td class="num" title="the score moved this share of the way from the own mean to '
            f'the overall mean">{_percent(row["shrinkage"])}</td>'
            f'<td class="num">{_percent(consistency)}'
            + (f'<div class="sub">{above} of {n} above</div>' if above is not None else "")
            + "</td>"
            '</tr><tr class="vids"><td colspan="7">'
            f"{_video_list(list(row['video_ids']), by_id, fmt)}</td></tr></tbody>"
        )
    return f'<div class="wrap"><table id="board">{head}{"".join(rows)}</table></div>'


def _not_ranked_section(table: pd.DataFrame, fmt: Callable[[object], str]) -> str:
    failed = table[table["status"] == "failed"]
    other = table[table["status"] != "failed"]
    parts = [f'<section id="failed"><h2>Failed videos ({len(failed)})</h2>']
    if failed.empty:
        parts.append("<p>No video failed: every video of the sheet was processed.</p>")
    else:
        parts.append(
            f"<p>These {len(failed)} video{'s' if len(failed) != 1 else ''} could not be fetched "
            "or processed, so they count for no influencer. A missing video says nothing about "
            "its performance: fix the link or file and run the pipeline again.</p>"
        )
        parts.append(_video_table(failed, fmt, "Error"))
    if not other.empty:
        parts.append(
            f"<h2>Processed but not ranked ({len(other)})</h2><p>These videos were processed "
            "but count for no ranked influencer.</p>"
        )
        parts.append(_video_table(other, fmt, "Reason"))
    parts.append("</section>")
    return "".join(parts)


def _video_table(table: pd.DataFrame, fmt: Callable[[object], str], reason: str) -> str:
    rows = "".join(
        f'<tr data-video="{_e(r.video_id)}"><td><code>{_e(r.video_id)}</code></td>'
        f'<td>{_link(r.video_url)}</td><td class="num">{fmt(r.performance)}</td>'
        f'<td class="err">{_e(r.reason)}</td></tr>'
        for r in table.itertuples(index=False)
    )
    return (
        '<div class="wrap"><table class="failed"><thead><tr><th>Video</th><th>URL</th>'
        f'<th class="num">Performance (sheet)</th><th>{_e(reason)}</th></tr></thead>'
        f"<tbody>{rows}</tbody></table></div>"
    )


def render_html(
    ranked: pd.DataFrame,
    videos: pd.DataFrame,
    plot: bytes,
    *,
    title: str = DEFAULT_TITLE,
    generated_from: str | None = None,
    generated_at: str | None = None,
) -> str:
    """The self-contained leaderboard page for prepared inputs (see ``prepare_inputs``)."""
    mu, fmt = mean_and_format(ranked, videos)
    unranked = not_ranked_videos(ranked, videos)
    n_failed = int((videos["status"] == "failed").sum())
    counted = sum(len(ids) for ids in ranked["video_ids"])
    made = [f"Made {_e(generated_at)}" if generated_at else "", _e(generated_from or "")]
    source = f'<p class="source">{" · ".join(m for m in made if m)}</p>' if any(made) else ""
    note = indistinct_note(ranked)
    banner = (
        f'<div class="banner" id="indistinct" role="note"><b>Cannot tell apart.</b> {_e(note)}'
        "</div>"
        if note
        else ""
    )
    cards = [
        ("", str(len(ranked)), "influencers ranked"),
        ("", str(counted), "videos counted"),
        ("warn" if n_failed else "", str(n_failed), '<a href="#failed">failed videos</a>'),
        ("", fmt(mu) if mu is not None else "—", "overall mean performance"),
        (
            "",
            str(int(_flags(ranked["consistently_above_average"]).sum())),
            "consistently above average",
        ),
    ]
    cards_html = "".join(
        f'<div class="card {cls}"><b>{value}</b><span>{label}</span></div>'
        for cls, value, label in cards
    )
    mean_text = f" ({fmt(mu)})" if mu is not None else ""
    explain = (
        f'<section class="explain"><p><b>Performance</b>: {_e(PERFORMANCE_MEANING)}</p>'
        "<p><b>Score</b> = the empirical-Bayes shrunk mean of an "
        "influencer's video performance. Each influencer's own mean is pulled toward the overall "
        f"mean{mean_text}, the more so the fewer and the more scattered its videos are: a single "
        "lucky video is pulled toward the overall mean, many consistent videos keep nearly their "
        "own mean. The bar shows the <b>95 % interval</b> of the score.</p>"
        '<p class="legend"><i class="l-pt"></i>score <i class="l-ci"></i>95 % interval '
        '<i class="l-mu"></i>overall mean <i class="l-vid"></i>one video</p><ul>'
        "<li><b>Shrinkage</b>: how far the score moved from the influencer's own mean toward the "
        "overall mean (0 % = own mean kept, 100 % = overall mean).</li>"
        "<li><b>Consistency</b>: share of the influencer's videos above the overall mean.</li>"
        '<li><span class="badge star">consistently above average</span>: the 95 % interval of '
        "the influencer's mean lies entirely above the overall mean (needs two or more videos)."
        "</li>"
        '<li><span class="badge face">face</span> the videos share one dominant face; '
        '<span class="badge outro">outro card</span> the videos show no dominant face and are '
        f"grouped by their outro card. {_e(OUTRO_NOTE)}</li>"
        "<li>Re-uploads (the same video posted again) belong to the influencer of the original "
        "and are marked in the video lists.</li></ul></section>"
    )
    if ranked.empty:
        board = (
            '<div class="empty" id="no-influencers"><b>No influencers ranked yet.</b><br>'
            f"The catalog has {len(videos)} video{'s' if len(videos) != 1 else ''}; "
            f"{n_failed} failed. Run the pipeline on a sheet with reachable videos.</div>"
        )
    else:
        board = _board(ranked, videos, mu, fmt)
    plot_uri = "data:image/png;base64," + base64.b64encode(plot).decode("ascii")
    plot_html = (
        '<h2>Score against number of videos</h2><img class="plot" alt="score with its 95 % '
        f'interval against the number of videos" src="{plot_uri}">'
    )
    footer = (
        "<footer>Files beside this page: leaderboard.csv, leaderboard.xlsx (sheets leaderboard, "
        "videos, about) and leaderboard.png.</footer>"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body><main>"
        f'<h1>{_e(title)}</h1>{source}{banner}<div class="cards">{cards_html}</div>{explain}'
        f"{board}{plot_html}{_not_ranked_section(unranked, fmt)}{footer}</main>"
        f"<script>{SORT_SCRIPT}</script></body></html>\n"
    )
