"""Path converters for the catalogue's addresses, registered once for every app's URLs."""

from django.urls import register_converter
from django.urls.converters import get_converters


class CaseNumberConverter:
    """Case numbers in URLs: 1–3 digits; views redirect to the three-digit form."""

    regex = "[0-9]{1,3}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value) -> str:
        return f"{int(value):03d}"


class BatchNumberConverter:
    """Batch numbers in URLs: 1–3 digits, no leading zero (a batch number is a small int)."""

    regex = "[1-9][0-9]{0,2}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value) -> str:
        return str(int(value))


CONVERTERS = {"caseno": CaseNumberConverter, "batchno": BatchNumberConverter}


def register() -> None:
    """Register `caseno` and `batchno` (Django refuses a second registration; the case
    and ballot URLconfs both call this)."""
    known = get_converters()
    for name, converter in CONVERTERS.items():
        if name not in known:
            register_converter(converter, name)
