"""The case-study rules: validation of every field, CSV/JSON import errors, export round trips."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import msgspec
import pytest

from enrichd.casestudies import (
    FIELDS,
    CaseStudyImportError,
    CaseStudyInput,
    CaseStudyInvalid,
    parse_csv,
    parse_json,
    size_tier_for,
    to_csv,
    to_json,
    validate,
)
from enrichd.intel import CaseStudyWeights, IntelConfig
from enrichd.plugins import CaseStudy

NOW = 1_780_000_000.0
INTEL = IntelConfig()
SAMPLE = Path(__file__).resolve().parent.parent / "samples" / "case_studies.csv"
HEADER = ",".join(FIELDS)


def make(**fields: Any) -> CaseStudy:
    """Validate a case study made of sensible defaults and ``fields``."""
    raw: dict[str, Any] = {"customer": "Acme Outfitters", "vertical": "retail", **fields}
    return validate(msgspec.convert(raw, CaseStudyInput), intel=INTEL, now=NOW)


def invalid(**fields: Any) -> dict[str, str]:
    """The field errors of an invalid case study, by field."""
    with pytest.raises(CaseStudyInvalid) as info:
        make(**fields)
    return {e.field: e.message for e in info.value.errors}


# -- validation ---------------------------------------------------------------------------------


def test_minimal_case_study_gets_an_id_and_timestamps() -> None:
    record = make()
    assert re.fullmatch(r"cs_[0-9a-f]{12}", record.id)
    assert (record.customer, record.vertical) == ("Acme Outfitters", "retail")
    assert record.created_at == record.updated_at == NOW
    assert record.size_tier is None and record.employee_count is None
    assert make().id != record.id


def test_strings_are_stripped_and_blank_becomes_none() -> None:
    record = make(
        customer="  Acme  ",
        vertical=" retail\n",
        sub_vertical="   ",
        use_case=" e-commerce search ",
        quote="",
        headline_result=None,
    )
    assert record.customer == "Acme" and record.vertical == "retail"
    assert record.sub_vertical is None and record.quote is None and record.headline_result is None
    assert record.use_case == "e-commerce search"


@pytest.mark.parametrize("field", ["customer", "vertical"])
@pytest.mark.parametrize("value", ["", "   ", "\t\n"])
def test_customer_and_vertical_are_required(field: str, value: str) -> None:
    assert "required" in invalid(**{field: value})[field]


def test_customer_and_vertical_need_their_keys() -> None:
    with pytest.raises(msgspec.ValidationError, match="customer"):
        msgspec.convert({"vertical": "retail"}, CaseStudyInput)


@pytest.mark.parametrize("field", ["customer", "vertical"])
def test_names_are_at_most_200_characters(field: str) -> None:
    assert make(**{field: "x" * 200})
    assert "at most 200 characters" in invalid(**{field: "x" * 201})[field]


@pytest.mark.parametrize(
    "field", ["sub_vertical", "use_case", "competitor_displaced", "headline_result", "quote", "url"]
)
def test_other_texts_are_at_most_2000_characters(field: str) -> None:
    long = "https://example.com/" + "x" * 1981 if field == "url" else "x" * 2001
    assert "at most 2000 characters" in invalid(**{field: long})[field]
    ok = long[:2000]
    assert getattr(make(**{field: ok}), field) == ok


@pytest.mark.parametrize(
    "url",
    ["https://example.com/customers/acme", "http://example.com", "HTTPS://Example.com/a?b=c#d"],
)
def test_absolute_http_urls_are_accepted(url: str) -> None:
    assert make(url=f"  {url} ").url == url


@pytest.mark.parametrize(
    "url",
    [
        "example.com/customers/acme",
        "/customers/acme",
        "ftp://example.com/a",
        "javascript:alert(1)",
        "https://",
        "https:///path",
        "https://exa mple.com/",
        "https://example.com/\x00",
        "http://[::1",
        "mailto:sales@example.com",
    ],
)
def test_other_urls_are_refused(url: str) -> None:
    assert "absolute http(s) URL" in invalid(url=url)["url"]


def test_employee_count_must_be_between_0_and_100_million() -> None:
    assert make(employee_count=0).employee_count == 0
    assert make(employee_count=100_000_000).size_tier == "enterprise"
    assert "between 0 and 100000000" in invalid(employee_count=-1)["employee_count"]
    assert "between 0 and 100000000" in invalid(employee_count=100_000_001)["employee_count"]
    # JSON imports have Python's unbounded ints: refused, not a failure to store later.
    huge = "9" * 30
    text = '[{"customer": "A", "vertical": "r", "employee_count": %s}]'
    assert import_errors(parse_json, text % huge) == [
        f"item 0, field employee_count: must be between 0 and 100000000, got {huge}"
    ]
    assert import_errors(parse_json, text % "1e999") == [
        "item 0, field employee_count: must be a whole number, got inf"
    ]


@pytest.mark.parametrize(
    ("employees", "tier"),
    [
        (0, "startup"),
        (99, "startup"),
        (100, "smb"),
        (999, "smb"),
        (1000, "mid-market"),
        (9999, "mid-market"),
        (10_000, "enterprise"),
        (250_000, "enterprise"),
    ],
)
def test_size_tier_is_derived_from_employee_count(employees: int, tier: str) -> None:
    assert make(employee_count=employees).size_tier == tier


def test_size_tier_thresholds_come_from_the_config() -> None:
    intel = IntelConfig(
        case_studies=CaseStudyWeights(
            enterprise_employees=5000, mid_market_employees=500, smb_employees=50
        )
    )
    assert size_tier_for(5000, intel) == "enterprise"
    assert size_tier_for(499, intel) == "smb"
    assert size_tier_for(49, intel) == "startup"
    data = CaseStudyInput(customer="A", vertical="retail", employee_count=700)
    assert validate(data, intel=intel, now=NOW).size_tier == "mid-market"


def test_a_given_size_tier_wins_and_is_normalised() -> None:
    record = make(size_tier=" Mid-Market ", employee_count=50)
    assert record.size_tier == "mid-market" and record.employee_count == 50
    for tier in ("enterprise", "mid-market", "smb", "startup"):
        assert make(size_tier=tier).size_tier == tier


@pytest.mark.parametrize("tier", ["large", "mid market", "SME", "huge-enterprise"])
def test_unknown_size_tiers_are_refused(tier: str) -> None:
    message = invalid(size_tier=tier)["size_tier"]
    assert "enterprise, mid-market, smb, startup" in message


@pytest.mark.parametrize("value", ["none", "None", "N/A", "-"])
def test_no_competitor_spellings_mean_none(value: str) -> None:
    assert make(competitor_displaced=value).competitor_displaced is None
    assert make(competitor_displaced="Coveo").competitor_displaced == "Coveo"


@pytest.mark.parametrize("good", ["a", "A1", "acme-2024", "cs_0123456789ab", "x.y_z-1", "a" * 64])
def test_ids_matching_the_pattern_are_kept(good: str) -> None:
    assert make(id=good).id == good


@pytest.mark.parametrize(
    "bad", ["", " ", "-acme", "_a", ".a", "a b", "a/b", "ä", "a" * 65, "a\nb", "a\u00a0b"]
)
def test_ids_not_matching_the_pattern_are_refused(bad: str) -> None:
    assert "letters, digits" in invalid(id=bad)["id"]


def test_ids_are_stripped() -> None:
    assert make(id=" acme\n").id == "acme"


def test_existing_id_is_kept_and_must_match() -> None:
    data = CaseStudyInput(customer="A", vertical="retail")
    record = validate(data, intel=INTEL, now=NOW + 5, existing_id="acme", created_at=NOW)
    assert record.id == "acme"
    assert (record.created_at, record.updated_at) == (NOW, NOW + 5)
    other = CaseStudyInput(id="other", customer="A", vertical="retail")
    with pytest.raises(CaseStudyInvalid, match="id: must equal"):
        validate(other, intel=INTEL, now=NOW, existing_id="acme")


def test_every_broken_field_is_reported_at_once() -> None:
    errors = invalid(
        id="bad id", customer=" ", url="nope", size_tier="huge", employee_count=-3, quote="q" * 2001
    )
    assert set(errors) == {"id", "customer", "url", "size_tier", "employee_count", "quote"}


def test_unknown_fields_are_refused_by_the_input_type() -> None:
    with pytest.raises(msgspec.ValidationError, match="unknown field `created_at`"):
        msgspec.convert({"customer": "A", "vertical": "retail", "created_at": 1.0}, CaseStudyInput)


# -- CSV import ---------------------------------------------------------------------------------


def import_errors(parse: Any, text: str) -> list[str]:
    with pytest.raises(CaseStudyImportError) as info:
        parse(text, intel=INTEL, now=NOW)
    # The exception's text is every error, one a line.
    assert str(info.value) == "\n".join(info.value.errors)
    return info.value.errors


def test_the_sample_file_imports_cleanly() -> None:
    records = parse_csv(SAMPLE.read_text(encoding="utf-8"), intel=INTEL, now=NOW)
    assert len(records) >= 20
    assert len({r.id for r in records}) == len(records)
    displaced = {r.competitor_displaced for r in records}
    wanted = {
        "Elasticsearch",
        "Solr",
        "Coveo",
        "Bloomreach",
        "Constructor",
        "Searchspring",
        "Klevu",
    }
    assert wanted <= displaced and None in displaced
    assert {r.size_tier for r in records} == {"enterprise", "mid-market", "smb", "startup"}
    assert {r.use_case for r in records} >= {
        "e-commerce search",
        "marketplace search",
        "content discovery",
        "documentation search",
    }
    assert all(r.url and r.url.startswith("https://example.com/customers/") for r in records)


def test_csv_import_with_quotes_newlines_and_loose_headers() -> None:
    text = (
        "\ufeffID, Customer ,Vertical,Sub-Vertical,Employee Count,quote\r\n"
        'acme,Acme,retail,,"12,000","She said ""wow"",\nthen left."\r\n'
        "\r\n"
        "beta,Beta,media\r\n"
    )
    acme, beta = parse_csv(text, intel=INTEL, now=NOW)
    assert acme.id == "acme" and acme.employee_count == 12_000 and acme.size_tier == "enterprise"
    assert acme.quote == 'She said "wow",\nthen left.'
    assert beta.id == "beta" and beta.vertical == "media" and beta.quote is None


def test_csv_errors_name_every_physical_line_and_field() -> None:
    text = (
        f"{HEADER}\n"
        "ok-1,Good One,retail,,,,,,,,\n"  # line 2: fine
        'bad-2,,retail,,,,,,,"a quote\nover two lines",\n'  # lines 3-4: no customer
        "bad 5,Five,,,,huge,-4,,,,ftp://x\n"  # line 5: id, vertical, size, count, url
        "ok-6,Six,media,,,,many,,,,\n"  # line 6: not a number
        "ok-1,Dup,retail,,,,,,,,\n"  # line 7: duplicate id
    )
    errors = import_errors(parse_csv, text)
    assert errors == [
        "line 3, field customer: is required and must not be blank",
        "line 5, field id: must be 1-64 letters, digits, '_', '.' or '-', starting with a letter "
        "or digit; got 'bad 5'",
        "line 5, field vertical: is required and must not be blank",
        "line 5, field employee_count: must be between 0 and 100000000, got -4",
        "line 5, field size_tier: must be one of enterprise, mid-market, smb, startup, got 'huge'",
        "line 5, field url: must be an absolute http(s) URL, got 'ftp://x'",
        "line 6, field employee_count: must be a whole number, got 'many'",
        "line 7, field id: duplicate id 'ok-1' (first at line 2)",
    ]


def test_ids_differing_only_in_spaces_are_duplicates() -> None:
    errors = import_errors(parse_csv, "id,customer,vertical\nacme,A,retail\n acme ,B,retail\n")
    assert errors == ["line 3, field id: duplicate id 'acme' (first at line 2)"]


def test_csv_unknown_and_missing_columns_are_named() -> None:
    errors = import_errors(parse_csv, "id,customer,Industry,notes,id\nx,X,retail,n,x\n")
    assert errors == [
        "line 1, field Industry: unknown column (known columns: " + ", ".join(FIELDS) + ")",
        "line 1, field notes: unknown column (known columns: " + ", ".join(FIELDS) + ")",
        "line 1, field id: column appears more than once",
        "line 1, field vertical: required column is missing",
    ]


def test_csv_rows_with_too_many_values_are_reported_in_line_order() -> None:
    text = "customer,vertical\nA,retail,extra\n,retail\nC,media\n"
    assert import_errors(parse_csv, text) == [
        "line 2: 3 values but the header has 2 columns",
        "line 3, field customer: is required and must not be blank",
    ]


@pytest.mark.parametrize("text", ["", "\n\n", "\ufeff"])
def test_csv_without_a_header_is_an_error(text: str) -> None:
    assert import_errors(parse_csv, text) == ["line 1: expected a header row naming the columns"]


def test_csv_with_only_a_header_has_no_records() -> None:
    assert parse_csv(HEADER + "\n", intel=INTEL, now=NOW) == []


def test_broken_csv_quoting_is_reported_at_the_row_it_starts() -> None:
    text = 'customer,vertical\n,retail\nB,media\nA,"retail\nC,media\n'
    assert import_errors(parse_csv, text) == [
        "line 2, field customer: is required and must not be blank",
        "line 4: not valid CSV: unexpected end of data",
    ]
    errors = import_errors(parse_csv, 'customer,vertical\nA,"retail"x\n')
    assert errors == ["line 2: not valid CSV: ',' expected after '\"'"]
    assert import_errors(parse_csv, '"customer,vertical\n') == [
        "line 1: not valid CSV: unexpected end of data"
    ]


# -- JSON import --------------------------------------------------------------------------------


def test_json_import_accepts_an_array_or_an_object() -> None:
    items = [{"id": "a", "customer": "A", "vertical": "retail", "employee_count": 150}]
    (record,) = parse_json(json.dumps(items), intel=INTEL, now=NOW)
    assert record.id == "a" and record.size_tier == "smb"
    wrapped = parse_json(json.dumps({"case_studies": items}), intel=INTEL, now=NOW)
    assert wrapped == [record]


def test_json_errors_name_every_item_and_field() -> None:
    items: list[Any] = [
        {"id": "a", "customer": "A", "vertical": "retail"},
        {"customer": "", "vertical": 7, "employee_count": "12", "bogus": 1},
        "not an object",
        {"id": "a", "customer": "A2", "vertical": "retail", "url": "www.example.com"},
        {"customer": "B", "vertical": "retail", "employee_count": True, "size_tier": None},
    ]
    assert import_errors(parse_json, json.dumps(items)) == [
        "item 1, field vertical: must be a string, got 7",
        "item 1, field employee_count: must be a whole number, got '12'",
        "item 1, field bogus: unknown field (known fields: " + ", ".join(FIELDS) + ")",
        "item 1, field customer: is required and must not be blank",
        "item 2: must be an object, got 'not an object'",
        "item 3, field url: must be an absolute http(s) URL, got 'www.example.com'",
        "item 3, field id: duplicate id 'a' (first at item 0)",
        "item 4, field employee_count: must be a whole number, got True",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[{"customer": "A",\n "vertical": }]', "line 2, column 14: not valid JSON"),
        ('{"items": []}', "expected a JSON array"),
        ('{"case_studies": [], "total": 0}', "expected a JSON array"),
        ('"just a string"', "expected a JSON array"),
    ],
)
def test_json_documents_of_the_wrong_shape(text: str, expected: str) -> None:
    (error,) = import_errors(parse_json, text)
    assert error.startswith(expected), error


# -- export ---------------------------------------------------------------------------------------


def tricky_records() -> list[CaseStudy]:
    return [
        make(
            id="tricky",
            customer='Comma, "Quote" & Co',
            quote="line one\nline two, with ünïcödé",
            employee_count=12_000,
            competitor_displaced="Coveo",
            url="https://example.com/customers/tricky?a=1&b=2",
        ),
        make(id="bare", customer="Bare", vertical="media"),
        make(customer="No Id Given", size_tier="startup"),
    ]


@pytest.mark.parametrize(("dump", "parse"), [(to_csv, parse_csv), (to_json, parse_json)])
def test_export_round_trips_through_import(dump: Any, parse: Any) -> None:
    records = tricky_records()
    again = parse(dump(records), intel=INTEL, now=NOW)
    assert again == records


def test_sample_round_trips_through_both_formats() -> None:
    records = parse_csv(SAMPLE.read_text(encoding="utf-8"), intel=INTEL, now=NOW)
    assert parse_json(to_json(records), intel=INTEL, now=NOW) == records
    assert parse_csv(to_csv(records), intel=INTEL, now=NOW) == records


def test_exports_hold_only_the_importable_fields() -> None:
    text = to_csv(tricky_records())
    assert text.splitlines()[0] == HEADER
    items = json.loads(to_json(tricky_records()))
    assert all(list(item) == list(FIELDS) for item in items)
    assert to_csv([]) == HEADER + "\n"
    assert json.loads(to_json([])) == []
