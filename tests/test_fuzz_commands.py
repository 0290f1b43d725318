"""Bad arguments at volume for the committee's commands (set_voting, detect_brushing,
anonymise_ballots): a CommandError that says why, or the command's work; never a
traceback, and a refusal changes nothing. (load_cases: tests/test_fuzz_load_cases.py;
simulate_votes writes thousands of ballots per run and is left out.)"""

import io

import pytest
from django.core.management import CommandError, call_command
from hypothesis import given, note
from hypothesis import strategies as st

from ballots.models import Ballot
from cases.models import Batch
from tests.conftest import make_ballot
from tests.fuzzing import fuzz_settings, nasty_text, rolled_back

pytestmark = [pytest.mark.django_db, pytest.mark.fuzz]

# Values only: a value that starts with "-" would be read as an option by argparse.
value = st.one_of(
    st.sampled_from(
        [
            "2",
            "1",
            "0",
            "-1",
            "99999999999999999999",
            "2026-12-01 08:00",
            "2026-12-31 20:00",
            "2026-02-30 08:00",
            "2026-12-01 25:00",
            "9999-12-31 23:59",
            "0001-01-01 00:00",
            "30",
            "36500",
            "１",
        ]
    ),
    nasty_text.filter(lambda text: not text.startswith("-")),
)


def arguments(options: dict[str, st.SearchStrategy]) -> st.SearchStrategy[list[str]]:
    """Some of `options`, each with a value (None: a flag without one), in any order."""
    chosen = st.lists(st.sampled_from(sorted(options)), unique=True, max_size=len(options))

    def with_values(names: list[str]) -> st.SearchStrategy[list[str]]:
        pairs = [
            st.just([name])
            if options[name] is None
            else options[name].map(lambda v, n=name: [n, v])
            for name in names
        ]
        return st.tuples(*pairs).map(lambda parts: [token for part in parts for token in part])

    return chosen.flatmap(with_values)


def run(command: str, args: list[str]) -> bool:
    """True if the command did its work, False if it refused with a CommandError."""
    try:
        call_command(command, *args, stdout=io.StringIO(), stderr=io.StringIO())
    except CommandError as error:
        note(f"refused: {error}")
        assert str(error).strip(), "a refusal must say why"
        return False
    return True


SET_VOTING_OPTIONS = {
    "--batch": value,
    "--opens": value,
    "--closes": value,
    "--open-now": None,
    "--days": value,
}


def voting_settings() -> list:
    return list(Batch.objects.order_by("pk").values_list("voting_opens_at", "voting_closes_at"))


VALID_SET_VOTING = [
    ["--batch", "2", "--opens", "2026-12-01 08:00", "--closes", "2026-12-31 20:00"],
    ["--batch", "2", "--open-now", "--days", "30"],
]


@st.composite
def damaged_set_voting_args(draw) -> list[str]:
    """A valid command line with 0–2 tokens replaced, dropped or added."""
    args = list(draw(st.sampled_from(VALID_SET_VOTING)))
    for _ in range(draw(st.sampled_from([0, 0, 1, 2]))):
        how = draw(st.sampled_from(["replace", "drop", "add"]))
        position = draw(st.integers(0, 2**16)) % (len(args) or 1)
        if how == "replace" and args:
            args[position] = draw(value)
        elif how == "drop" and args:
            del args[position]
        else:
            args.insert(position, draw(st.one_of(value, st.sampled_from(["--open-now", "--days"]))))
    return args


def test_set_voting_refuses_bad_arguments_and_changes_nothing(open_batch, clock):
    outcomes = set()

    @fuzz_settings(150)
    @given(args=st.one_of(damaged_set_voting_args(), arguments(SET_VOTING_OPTIONS)))
    def set_voting(args):
        with rolled_back():
            before = voting_settings()
            done = run("set_voting", args)
            outcomes.add(done)
            if not done:
                assert voting_settings() == before

    set_voting()
    assert outcomes == {True, False}


def test_detect_brushing_and_anonymise_refuse_bad_arguments(open_batch, clock):
    make_ballot(open_batch, [31, 32])
    commands = {
        "detect_brushing": {"--batch": value, "--json": None, "--include-void": None},
        "anonymise_ballots": {"--batch": value, "--dry-run": None},
    }

    @fuzz_settings(100)
    @given(data=st.data(), command=st.sampled_from(sorted(commands)))
    def run_command(data, command):
        args = data.draw(arguments(commands[command]))
        with rolled_back():
            before = list(Ballot.objects.values_list())
            run(command, args)
            # The batch is still open: nothing may be anonymised, whatever was asked.
            assert list(Ballot.objects.values_list()) == before

    run_command()
