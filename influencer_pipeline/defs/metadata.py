"""Materialization metadata shared by every asset: row count, column schema, markdown preview.

Every cell of a preview goes through ``display.show`` (secrets redacted, printable, capped):
the metadata panel is a place people read.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence

import dagster as dg
import numpy as np
import pandas as pd
import pyarrow as pa

from influencer_pipeline.display import show

PREVIEW_ROWS = 5
MAX_CELL_CHARS = 60


def _cell(value: object) -> str:
    if isinstance(value, bytes | bytearray):
        return f"<{len(value):,} bytes>"
    if isinstance(value, np.ndarray | list | tuple):
        items = list(value)
        if len(items) > 4:
            return f"[{len(items)} values]"
        return ", ".join(_cell(item) for item in items)
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return show(value, MAX_CELL_CHARS).replace("|", "\\|")


def markdown_table(df: pd.DataFrame, rows: int = PREVIEW_ROWS, total: int | None = None) -> str:
    """A markdown preview of the first ``rows`` rows; binary and list cells are summarized.
    ``total``: the row count of the table ``df`` begins (default: ``len(df)``)."""
    head = df.head(rows)
    total = len(df) if total is None else total
    header = "| " + " | ".join(str(c) for c in head.columns) + " |"
    rule = "| " + " | ".join("---" for _ in head.columns) + " |"
    body = ["| " + " | ".join(_cell(v) for v in row) + " |" for row in head.itertuples(index=False)]
    more = [f"\n_{total - len(head):,} more rows_"] if total > len(head) else []
    return "\n".join([header, rule, *body, *more])


def table_schema(schema: pa.Schema) -> dg.TableSchema:
    """The Dagster column schema of an Arrow schema."""
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                name=field.name,
                type=str(field.type),
                constraints=dg.TableColumnConstraints(nullable=field.nullable),
            )
            for field in schema
        ]
    )


def table_metadata(df: pd.DataFrame, schema: pa.Schema | None) -> dict[str, dg.MetadataValue]:
    """Row count, column schema and a markdown preview for a materialized table."""
    metadata: dict[str, dg.MetadataValue] = {
        "dagster/row_count": dg.MetadataValue.int(len(df)),
        "preview": dg.MetadataValue.md(markdown_table(df)),
    }
    if schema is None:
        schema = pa.Schema.from_pandas(df, preserve_index=False)
    metadata["dagster/column_schema"] = dg.MetadataValue.table_schema(table_schema(schema))
    return metadata


def partition_table_metadata(
    df: pd.DataFrame, rows: Mapping[str, np.ndarray], keys: Sequence[str], schema: pa.Schema | None
) -> dict[str, dict[str, dg.MetadataValue]]:
    """``table_metadata`` of each partition of a multi-partition output: its own row count and
    preview (``rows``: each key's row positions in ``df``; a key without rows has none)."""
    columns = dg.MetadataValue.table_schema(
        table_schema(schema or pa.Schema.from_pandas(df, preserve_index=False))
    )
    empty = np.zeros(0, dtype=np.int64)
    out: dict[str, dict[str, dg.MetadataValue]] = {}
    for key in keys:
        positions = rows.get(key, empty)
        out[key] = {
            "dagster/row_count": dg.MetadataValue.int(len(positions)),
            "preview": dg.MetadataValue.md(
                markdown_table(df.iloc[positions[:PREVIEW_ROWS]], total=len(positions))
            ),
            "dagster/column_schema": columns,
        }
    return out


def image_markdown(images: Sequence[tuple[str, bytes | None]], width: int | None = 96) -> str:
    """Thumbnails with captions as a markdown table the Dagster UI renders (a picture per row).

    The UI's markdown renders ``![alt](data:image/...)`` images but drops raw HTML, so the
    pictures are markdown images with data URIs. ``width`` caps the embedded picture's width.
    """
    rows = []
    for caption, data in images:
        if not data:
            continue
        text = show(caption, 80).replace("|", "\\|").replace("[", "(").replace("]", ")")
        rows.append(f"| {image_cell(data, width, text)} | {text} |")
    return "\n".join(["| picture | |", "| --- | --- |", *rows]) if rows else "_no images_"


def image_cell(data: bytes | None, width: int | None = 96, alt: str = "") -> str:
    """One picture as a markdown image with a data URI ("" without a picture)."""
    if not data:
        return ""
    picture = _resized(data, width) if width else data
    mime = "image/png" if picture[:8] == b"\x89PNG\r\n\x1a\n" else "image/jpeg"
    return f"![{alt}](data:{mime};base64,{base64.b64encode(picture).decode('ascii')})"


def _resized(data: bytes, width: int) -> bytes:
    """``data`` (an image) as a JPEG at most ``width`` pixels wide."""
    from PIL import Image

    image = Image.open(io.BytesIO(data)).convert("RGB")
    if image.width <= width:
        return data
    image.thumbnail((width, width * 4))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85)
    return out.getvalue()


def montage_jpeg(images: Sequence[bytes], tile: int = 64, columns: int = 8) -> bytes:
    """A single JPEG grid of thumbnails (compact enough to embed in metadata)."""
    from PIL import Image

    tiles = [Image.open(io.BytesIO(data)).convert("RGB") for data in images if data]
    if not tiles:
        return b""
    rows = (len(tiles) + columns - 1) // columns
    canvas = Image.new("RGB", (tile * min(columns, len(tiles)), tile * rows), "white")
    for i, img in enumerate(tiles):
        img.thumbnail((tile, tile))
        canvas.paste(img, ((i % columns) * tile, (i // columns) * tile))
    out = io.BytesIO()
    canvas.save(out, format="JPEG", quality=80)
    return out.getvalue()
