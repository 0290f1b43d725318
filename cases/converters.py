class CaseNumberConverter:
    """Case numbers in URLs: 1–3 digits; views redirect to the three-digit form."""

    regex = "[0-9]{1,3}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value) -> str:
        return f"{int(value):03d}"
