"""CSV downloads: cells a spreadsheet would run as a formula are quoted as text."""
from __future__ import annotations

import csv
import io
from typing import Iterable

from flask import Response


def safe_cell(value) -> object:
    """A cell starting '=', '@', '+' or '-' (other than a number such as +254712345678) becomes text."""
    if not isinstance(value, str) or not value:
        return value
    if value[0] in "=@\t\r" or (value[0] in "+-" and not value[1:].replace(".", "", 1).isdigit()):
        return "'" + value
    return value


def csv_response(filename: str, header: Iterable[str], rows: Iterable[Iterable]) -> Response:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
    return Response("\ufeff" + out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
