"""The internal case-study database's rules: validation, and CSV/JSON import and export.

Pure functions over :class:`~enrichd.plugins.CaseStudy` records; the API and the
``enrichd case-studies`` command do the storing. An import is all or nothing: every bad row is
reported (``line N, field F: message`` for CSV, ``item N, field F: message`` for JSON) and no
record is returned, so nothing is written.
"""

from __future__ import annotations

import csv
import io
import json
import re
import secrets
import time
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

import msgspec

from .intel import IntelConfig
from .plugins._types import CaseStudy, SizeTier

__all__ = [
    "FIELDS",
    "SIZE_TIERS",
    "CaseStudyImportError",
    "CaseStudyInput",
    "CaseStudyInvalid",
    "FieldError",
    "new_id",
    "parse_csv",
    "parse_json",
    "size_tier_for",
    "to_csv",
    "to_json",
    "validate",
]

SIZE_TIERS: tuple[SizeTier, ...] = ("enterprise", "mid-market", "smb", "startup")
#: Ids appear in URLs (``/api/v1/case-studies/{id}``): nothing there needs escaping.
ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
#: Length limits: the names a list shows, and everything else.
NAME_MAX = 200
TEXT_MAX = 2000
#: Far above any employer; also keeps the count inside msgpack's 64-bit integers.
EMPLOYEES_MAX = 100_000_000
#: What people write in a spreadsheet for "no competitor was displaced".
_NO_COMPETITOR = frozenset({"none", "n/a", "na", "-"})


class CaseStudyInput(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A case study as a client sends it: every :class:`CaseStudy` field but the timestamps.

    Types only; the rules (lengths, URL, size tier, id pattern) are checked by :func:`validate`,
    which reports every broken field at once.
    """

    id: str | None = None
    customer: str
    vertical: str
    sub_vertical: str | None = None
    use_case: str | None = None
    size_tier: str | None = None
    employee_count: int | None = None
    competitor_displaced: str | None = None
    headline_result: str | None = None
    quote: str | None = None
    url: str | None = None


#: The fields of an import or export, in file column order.
FIELDS: tuple[str, ...] = CaseStudyInput.__struct_fields__
_TEXT_FIELDS = ("sub_vertical", "use_case", "competitor_displaced", "headline_result", "quote")


class FieldError(msgspec.Struct, frozen=True):
    """One broken field of one record."""

    field: str
    message: str


class CaseStudyInvalid(ValueError):
    """A case study breaks the rules; ``errors`` names every broken field."""

    def __init__(self, errors: Sequence[FieldError]) -> None:
        self.errors = list(errors)
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in self.errors))


class CaseStudyImportError(ValueError):
    """An import file has bad rows; ``errors`` lists every one, and nothing was imported."""

    def __init__(self, errors: Sequence[str]) -> None:
        self.errors = list(errors)
        super().__init__("\n".join(self.errors))


def new_id() -> str:
    """A fresh case-study id: ``cs_`` and 12 hex digits."""
    return f"cs_{secrets.token_hex(6)}"


def size_tier_for(employee_count: int, intel: IntelConfig) -> SizeTier:
    """The size tier of a company with ``employee_count`` employees, by the configured thresholds.

    The thresholds live in ``[intel.case_studies]`` because module m13 compares targets with the
    same tiers.
    """
    return cast(SizeTier, intel.case_studies.size_tier(employee_count))


# ---------------------------------------------------------------------------------------------
# Validation


def _text(
    errors: list[FieldError], field: str, value: str | None, limit: int, *, required: bool = False
) -> str | None:
    """``value`` stripped (blank is None), checked against ``limit`` and ``required``."""
    cleaned = value.strip() if value is not None else ""
    if not cleaned:
        if required:
            errors.append(FieldError(field, "is required and must not be blank"))
        return None
    if len(cleaned) > limit:
        errors.append(FieldError(field, f"must be at most {limit} characters, got {len(cleaned)}"))
        return None
    return cleaned


#: An absolute http(s) URL in printable ASCII (other characters percent-encoded, hosts in
#: punycode), as RFC 3986 writes URIs; also the pattern the OpenAPI document states.
#: Surrounding ASCII blanks are trimmed; a blank value means no URL.
URL_PATTERN = (
    r"^[ \t\r\n]*(?:[Hh][Tt][Tt][Pp][Ss]?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?(?:[/?#][!-~]*)?)?"
    r"[ \t\r\n]*$"
)
_URL_RE = re.compile(URL_PATTERN)


def _check_url(errors: list[FieldError], value: str | None) -> str | None:
    url = (value or "").strip(" \t\r\n")
    if not url:
        return None
    if len(url) > TEXT_MAX:
        errors.append(FieldError("url", f"must be at most {TEXT_MAX} characters, got {len(url)}"))
        return None
    if not _URL_RE.fullmatch(url) or not urllib.parse.urlsplit(url).hostname:
        errors.append(FieldError("url", f"must be an absolute http(s) URL, got {url!r}"))
        return None
    return url


def _check_id(errors: list[FieldError], value: str | None, existing_id: str | None) -> str:
    if value is None:
        return existing_id or new_id()
    value = value.strip()
    if not ID_RE.fullmatch(value):
        errors.append(
            FieldError(
                "id",
                f"must be 1-64 letters, digits, '_', '.' or '-', starting with a letter or "
                f"digit; got {value!r}",
            )
        )
    elif existing_id is not None and value != existing_id:
        errors.append(FieldError("id", f"must equal the id being replaced ({existing_id!r})"))
    return value


def _check_size(
    errors: list[FieldError], tier: str | None, employees: int | None, intel: IntelConfig
) -> tuple[SizeTier | None, int | None]:
    if employees is not None and not 0 <= employees <= EMPLOYEES_MAX:
        message = f"must be between 0 and {EMPLOYEES_MAX}, got {employees}"
        errors.append(FieldError("employee_count", message))
        employees = None
    cleaned = tier.strip().lower() if tier is not None else ""
    if not cleaned:
        # An explicit tier wins; otherwise derive it, as m13 would from the target's headcount.
        return (size_tier_for(employees, intel) if employees is not None else None), employees
    for known in SIZE_TIERS:
        if cleaned == known:
            return known, employees
    errors.append(FieldError("size_tier", f"must be one of {', '.join(SIZE_TIERS)}, got {tier!r}"))
    return None, employees


def validate(
    data: CaseStudyInput,
    *,
    intel: IntelConfig,
    now: float,
    existing_id: str | None = None,
    created_at: float | None = None,
) -> CaseStudy:
    """The stored record for ``data``, or :class:`CaseStudyInvalid` naming every broken field.

    ``existing_id`` is the id of the record being replaced (``PUT``): ``data.id`` must then be
    absent or equal. Without either, a new ``cs_<12 hex>`` id is made. ``created_at`` keeps the
    creation time of a replaced record (default: ``now``).
    """
    errors: list[FieldError] = []
    record_id = _check_id(errors, data.id, existing_id)
    customer = _text(errors, "customer", data.customer, NAME_MAX, required=True)
    vertical = _text(errors, "vertical", data.vertical, NAME_MAX, required=True)
    texts = {f: _text(errors, f, getattr(data, f), TEXT_MAX) for f in _TEXT_FIELDS}
    competitor = texts["competitor_displaced"]
    if competitor is not None and competitor.lower() in _NO_COMPETITOR:
        texts["competitor_displaced"] = None
    tier, employees = _check_size(errors, data.size_tier, data.employee_count, intel)
    url = _check_url(errors, data.url)
    if errors:
        raise CaseStudyInvalid(errors)
    assert customer is not None and vertical is not None  # required: an error otherwise
    return CaseStudy(
        id=record_id,
        customer=customer,
        vertical=vertical,
        sub_vertical=texts["sub_vertical"],
        use_case=texts["use_case"],
        size_tier=tier,
        employee_count=employees,
        competitor_displaced=texts["competitor_displaced"],
        headline_result=texts["headline_result"],
        quote=texts["quote"],
        url=url,
        created_at=now if created_at is None else created_at,
        updated_at=now,
    )


# ---------------------------------------------------------------------------------------------
# Import


def _validate_all(
    rows: Iterable[tuple[str, dict[str, Any], list[FieldError]]],
    *,
    intel: IntelConfig | None,
    now: float | None,
) -> list[CaseStudy]:
    """Validate ``(where, fields, errors so far)`` rows; every error of every row, or records."""
    intel = intel or IntelConfig()
    now = time.time() if now is None else now
    errors: list[str] = []
    records: list[CaseStudy] = []
    first_seen: dict[str, str] = {}
    for where, fields, row_errors in rows:
        problems = list(row_errors)
        try:
            data = CaseStudyInput(
                customer=fields.pop("customer", None) or "",
                vertical=fields.pop("vertical", None) or "",
                **fields,
            )
            records.append(validate(data, intel=intel, now=now))
        except CaseStudyInvalid as exc:
            # A field whose value could not even be read was left out; report it only once.
            unreadable = {p.field for p in row_errors}
            problems.extend(e for e in exc.errors if e.field not in unreadable)
        record_id = fields.get("id")
        # Compared as stored (stripped): " acme" and "acme" would overwrite each other.
        record_id = record_id.strip() if isinstance(record_id, str) else None
        if record_id:
            if record_id in first_seen:
                first = first_seen[record_id]
                problems.append(FieldError("id", f"duplicate id {record_id!r} (first at {first})"))
            else:
                first_seen[record_id] = where
        errors.extend(f"{where}, field {p.field}: {p.message}" for p in problems)
    if errors:
        raise CaseStudyImportError(errors)
    return records


def _normalise_header(name: str) -> str:
    # Spreadsheet headers such as "Employee Count" or "sub-vertical" mean the field names.
    return re.sub(r"[\s-]+", "_", name.strip().lower())


def _csv_int(field: str, raw: str, errors: list[FieldError]) -> int | None:
    text = raw.strip()
    if not text:
        return None
    # Spreadsheets write 12,000 for 12000.
    if re.fullmatch(r"-?\d{1,3}(,\d{3})+|-?\d+", text):
        return int(text.replace(",", ""))
    errors.append(FieldError(field, f"must be a whole number, got {raw!r}"))
    return None


def _csv_header(header: list[str]) -> tuple[list[str], list[str]]:
    """The field of each column and the header's errors (unknown, repeated, missing columns)."""
    names = [_normalise_header(h) for h in header]
    errors = [
        f"line 1, field {raw.strip()}: unknown column (known columns: {', '.join(FIELDS)})"
        for raw, name in zip(header, names, strict=True)
        if name not in FIELDS
    ]
    seen: set[str] = set()
    for name in names:
        if name in FIELDS and name in seen:
            errors.append(f"line 1, field {name}: column appears more than once")
        seen.add(name)
    errors.extend(
        f"line 1, field {name}: required column is missing"
        for name in ("customer", "vertical")
        if name not in seen
    )
    return names, errors


def _csv_rows(
    reader: Any, names: list[str], errors: list[str]
) -> Iterable[tuple[str, dict[str, Any], list[FieldError]]]:
    """Each data row as ``(where, fields, errors)``; row-shape errors go to ``errors``."""
    start = reader.line_num + 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            # Broken quoting: where later rows begin is anyone's guess, so stop here.
            errors.append(f"line {start}: not valid CSV: {exc}")
            return
        where = f"line {start}"
        start = reader.line_num + 1
        if not any(c.strip() for c in cells):
            continue  # blank lines (and rows of empty cells) are not case studies
        if len(cells) > len(names):
            errors.append(f"{where}: {len(cells)} values but the header has {len(names)} columns")
            continue
        row_errors: list[FieldError] = []
        fields: dict[str, Any] = {}
        # Fewer cells than columns: tools drop trailing empty cells; missing cells are blank.
        for name, cell in zip(names, cells, strict=False):
            if name == "employee_count":
                fields[name] = _csv_int(name, cell, row_errors)
            else:
                fields[name] = cell if cell.strip() else None
        yield where, fields, row_errors


def parse_csv(
    text: str, *, intel: IntelConfig | None = None, now: float | None = None
) -> list[CaseStudy]:
    """The validated case studies of a CSV file whose first line names the columns.

    Raises :class:`CaseStudyImportError` listing every bad row by physical line (the header is
    line 1; a row spanning lines is named by its first), unknown columns and duplicate ids.
    """
    text = text.removeprefix("\ufeff")  # Excel's UTF-8 byte-order mark
    # strict: a stray quote is an error to report, not a cell to swallow the rest of the file.
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise CaseStudyImportError([f"line 1: not valid CSV: {exc}"]) from None
    if header is None or not any(h.strip() for h in header):
        raise CaseStudyImportError(["line 1: expected a header row naming the columns"])
    names, errors = _csv_header(header)
    if errors:
        raise CaseStudyImportError(errors)
    shape_errors: list[str] = []
    try:
        records = _validate_all(_csv_rows(reader, names, shape_errors), intel=intel, now=now)
    except CaseStudyImportError as exc:
        raise CaseStudyImportError(_in_file_order(shape_errors + exc.errors)) from None
    if shape_errors:
        raise CaseStudyImportError(shape_errors)
    return records


def _json_fields(item: Mapping[str, Any]) -> tuple[dict[str, Any], list[FieldError]]:
    errors: list[FieldError] = []
    fields: dict[str, Any] = {}
    for key, value in item.items():
        if key not in FIELDS:
            errors.append(FieldError(key, f"unknown field (known fields: {', '.join(FIELDS)})"))
        elif value is None:
            fields[key] = None
        elif key == "employee_count":
            if isinstance(value, int) and not isinstance(value, bool):
                fields[key] = value
            else:
                errors.append(FieldError(key, f"must be a whole number, got {value!r}"))
        elif isinstance(value, str):
            fields[key] = value
        else:
            errors.append(FieldError(key, f"must be a string, got {value!r}"))
    return fields, errors


def parse_json(
    text: str, *, intel: IntelConfig | None = None, now: float | None = None
) -> list[CaseStudy]:
    """The validated case studies of a JSON array of objects or ``{"case_studies": [...]}``.

    Raises :class:`CaseStudyImportError` listing every bad item as ``item N`` (its index in the
    array, from 0), unknown fields and duplicate ids.
    """
    try:
        doc = json.loads(text.removeprefix("\ufeff"))
    except json.JSONDecodeError as exc:
        raise CaseStudyImportError(
            [f"line {exc.lineno}, column {exc.colno}: not valid JSON: {exc.msg}"]
        ) from None
    if isinstance(doc, dict) and set(doc) == {"case_studies"}:
        doc = doc["case_studies"]
    if not isinstance(doc, list):
        raise CaseStudyImportError(
            ['expected a JSON array of case studies or {"case_studies": [...]}']
        )
    rows: list[tuple[str, dict[str, Any], list[FieldError]]] = []
    shape_errors: list[str] = []
    for index, item in enumerate(doc):
        if not isinstance(item, dict):
            shape_errors.append(f"item {index}: must be an object, got {item!r}")
            continue
        fields, errors = _json_fields(item)
        rows.append((f"item {index}", fields, errors))
    try:
        records = _validate_all(rows, intel=intel, now=now)
    except CaseStudyImportError as exc:
        raise CaseStudyImportError(_in_file_order(shape_errors + exc.errors)) from None
    if shape_errors:
        raise CaseStudyImportError(shape_errors)
    return records


def _in_file_order(errors: list[str]) -> list[str]:
    """``errors`` by line or item number (rows of the wrong shape were collected apart)."""

    def position(line: str) -> int:
        match = re.match(r"(?:line|item) (\d+)", line)
        return int(match.group(1)) if match else -1

    # sorted() is stable: the errors of one row keep their field order.
    return sorted(errors, key=position)


# ---------------------------------------------------------------------------------------------
# Export


def _row(record: CaseStudy) -> dict[str, Any]:
    return {f: getattr(record, f) for f in FIELDS}


def to_csv(records: Iterable[CaseStudy]) -> str:
    """``records`` as CSV with a header row; :func:`parse_csv` reads it back."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(FIELDS)
    for record in records:
        writer.writerow(["" if v is None else v for v in _row(record).values()])
    return out.getvalue()


def to_json(records: Iterable[CaseStudy]) -> str:
    """``records`` as a JSON array of objects; :func:`parse_json` reads it back."""
    return json.dumps([_row(r) for r in records], indent=2, ensure_ascii=False) + "\n"
