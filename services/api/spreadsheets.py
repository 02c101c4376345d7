"""A table as a download: CSV (UTF-8 with a byte order mark, which spreadsheet programs need to
read Chinese text; CRLF lines) or an XLSX workbook with the same rows."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any, Final, Literal

from fastapi.responses import Response
from openpyxl import Workbook

XLSX: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def table_download(
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    format: Literal["csv", "xlsx"],
    filename: str,
    sheet: str,
) -> Response:
    """The rows under their column names, as an attachment named `filename`."""
    disposition = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if format == "xlsx":
        book = Workbook()
        page = book.active
        assert page is not None  # a new workbook has its sheet
        page.title = sheet
        page.append(list(columns))
        for row in rows:
            page.append(list(row))
        out = io.BytesIO()
        book.save(out)
        return Response(out.getvalue(), media_type=XLSX, headers=disposition)
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return Response(
        "\ufeff" + text.getvalue(), media_type="text/csv; charset=utf-8", headers=disposition
    )
