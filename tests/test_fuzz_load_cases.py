"""Bad files at volume for `manage.py load_cases`: any bytes, any JSON shape, any CSV
rows and batch options. The command either loads a valid file or stops with a
CommandError, and a refused file changes nothing."""

import csv
import io
import json
import tempfile
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from hypothesis import given, note
from hypothesis import strategies as st

from cases.models import Batch, Case
from tests.fuzzing import fuzz_settings, nasty_text, rolled_back

pytestmark = [pytest.mark.django_db, pytest.mark.fuzz]


def catalogue() -> list:
    return [
        list(Batch.objects.order_by("pk").values_list()),
        list(Case.objects.order_by("pk").values_list()),
    ]


def load(content: bytes, suffix: str, *args: str) -> bool:
    """Run the command on `content`; True if it loaded, False if it refused (CommandError)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"cases{suffix}"
        path.write_bytes(content)
        try:
            call_command("load_cases", str(path), *args, stdout=io.StringIO(), verbosity=0)
        except CommandError as error:
            note(f"refused: {error}")
            assert str(error).strip(), "a refusal must say why"
            return False
    return True


anything = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), nasty_text),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(nasty_text, inner, max_size=4),
    max_leaves=10,
)
case_number = st.one_of(
    st.integers(min_value=31, max_value=35),
    st.integers(),
    st.sampled_from([0, -1, 10**20, 31.5, "031", "三十一", None, True]),
)
case_field = st.one_of(st.just("社区治理案例"), nasty_text, anything)
case_record = st.fixed_dictionaries(
    {},
    optional={
        "number": case_number,
        "title": case_field,
        "province": st.one_of(st.just("北京市"), case_field),
        "body": st.one_of(st.lists(case_field, max_size=3), case_field),
    },
)
batch_block = st.fixed_dictionaries(
    {},
    optional={
        "number": st.one_of(st.just(2), case_number),
        "name": st.one_of(st.just("第二批"), case_field),
        "notice": st.one_of(st.lists(case_field, max_size=2), case_field),
        "first_number": st.one_of(st.just(31), case_number),
        "last_number": st.one_of(st.just(60), case_number),
    },
)
json_document = st.one_of(
    st.fixed_dictionaries(
        {"batch": st.one_of(batch_block, anything), "cases": st.lists(case_record, max_size=4)}
    ),
    anything,
)


def valid_document(numbers: list[int]) -> dict:
    return {
        "batch": {
            "number": 2,
            "name": "第二批初选入围案例",
            "notice": ["第一段公告。"],
            "first_number": 31,
            "last_number": 60,
        },
        "cases": [
            {"number": n, "title": f"社区{n}", "province": "北京市", "body": [f"案例{n}。"]}
            for n in numbers
        ],
    }


@st.composite
def damaged_document(draw) -> dict:
    """A valid file with 0–3 of its values replaced by something odd: the refusals
    deep inside the validation, not only at the door."""
    doc = valid_document(draw(st.lists(st.integers(31, 60), min_size=1, max_size=3, unique=True)))
    leaves = [("batch", key) for key in doc["batch"]]
    leaves += [(index, key) for index, case in enumerate(doc["cases"]) for key in case]
    for where, key in draw(st.lists(st.sampled_from(leaves), max_size=3, unique=True)):
        value = draw(st.one_of(case_number, nasty_text, anything))
        (doc["batch"] if where == "batch" else doc["cases"][where])[key] = value
    return doc


def test_load_cases_refuses_bad_files_cleanly_and_changes_nothing(batch2_loaded):
    outcomes = set()

    @fuzz_settings(200)
    @given(
        content=st.one_of(
            damaged_document().map(lambda doc: json.dumps(doc, ensure_ascii=False).encode()),
            json_document.map(lambda doc: json.dumps(doc, ensure_ascii=False).encode("gb18030")),
            st.binary(max_size=300),
        ),
    )
    def load_json(content):
        with rolled_back():
            before = catalogue()
            loaded = load(content, ".json")
            outcomes.add(loaded)
            if not loaded:
                assert catalogue() == before

    load_json()
    assert outcomes == {True, False}


def csv_bytes(rows: list[list[str]], encoding: str) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode(encoding, errors="replace")


@st.composite
def damaged_csv(draw) -> tuple[list[list[str]], str]:
    """A valid CSV table for batch 2 with 0–3 cells replaced, a row cut or lengthened,
    or the header changed; and the encoding it is saved in."""
    numbers = draw(st.lists(st.integers(31, 60), min_size=1, max_size=3, unique=True))
    table = [["number", "title", "province", "body"]]
    table += [[f"{n:03d}", f"社区{n}", "北京市", f"第一段{n}\n\n第二段"] for n in numbers]
    cell = st.one_of(st.sampled_from(["", " ", "031", "0", "9" * 12, "三十一"]), nasty_text)
    for _ in range(draw(st.integers(0, 3))):
        row = draw(st.integers(0, len(table) - 1))
        how = draw(st.sampled_from(["replace", "cut", "add"]))
        if how == "replace" and table[row]:
            table[row][draw(st.integers(0, len(table[row]) - 1))] = draw(cell)
        elif how == "cut":
            table[row] = table[row][: draw(st.integers(0, len(table[row])))]
        elif how == "add":
            table[row].append(draw(cell))
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "gb18030", "latin-1", "utf-16"]))
    return table, encoding


def test_load_cases_refuses_bad_csv_files_and_options_cleanly(batch2_loaded):
    option = st.one_of(st.integers(), st.sampled_from([2, 3, 31, 60, 999, 1000, -1, 10**10]))
    outcomes = set()

    @fuzz_settings(150)
    @given(
        csv_file=damaged_csv(),
        batch=st.one_of(st.just(2), st.none(), option),
        name=st.one_of(st.none(), nasty_text),
        first=st.one_of(st.none(), option),
        last=st.one_of(st.none(), option),
    )
    def load_csv(csv_file, batch, name, first, last):
        table, encoding = csv_file
        args = []
        for flag, value in (("--batch", batch), ("--first", first), ("--last", last)):
            if value is not None:
                args += [flag, str(value)]
        if name is not None:
            args += ["--batch-name", name]
        with rolled_back():
            before = catalogue()
            loaded = load(csv_bytes(table, encoding), ".csv", *args)
            outcomes.add(loaded)
            if not loaded:
                assert catalogue() == before

    load_csv()
    assert outcomes == {True, False}
