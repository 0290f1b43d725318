"""A batch's results on the catalogue's batch page (which belongs to `cases`, and
knows nothing of the count). The page asks only once the results are visible."""

from django import template

from ballots import charts, tally
from cases.models import Batch

register = template.Library()


@register.simple_tag
def batch_results(batch: Batch) -> tally.Results:
    return tally.results(batch)


@register.simple_tag
def results_chart(results: tally.Results) -> charts.RankingChart:
    """The ranking as bars: candidates only (disqualified cases are listed apart)."""
    return charts.ranking_chart(
        [(standing.case.display_number, standing.votes) for standing in results.candidates]
    )
