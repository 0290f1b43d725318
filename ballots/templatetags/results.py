"""A batch's results on the catalogue's batch page (which belongs to `cases`, and
knows nothing of the count). The page asks only once the results are visible."""

from django import template

from ballots import tally
from cases.models import Batch

register = template.Library()


@register.simple_tag
def batch_results(batch: Batch) -> tally.Results:
    return tally.results(batch)
