from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_safe

from cases.forms import CaseFilterForm
from cases.models import Batch, Case
from casevote.pagecache import cached_page


def get_case_or_404(number: int) -> Case:
    return get_object_or_404(Case.objects.select_related("batch"), number=number)


@require_safe
@cached_page()
def campaign(request):
    batch = Batch.objects.current()
    cases = Case.objects.none()
    provinces: list[str] = []
    if batch is not None:
        cases = batch.cases.all()
        provinces = cases.provinces()
    form = CaseFilterForm(request.GET or None, provinces=provinces)
    filters = form.filters()
    if "province" in filters:
        cases = cases.in_province(filters["province"])
    if "q" in filters:
        cases = cases.matching(filters["q"])
    return render(
        request,
        "cases/campaign.html",
        {
            "batch": batch,
            "cases": list(cases),
            "form": form,
            "filters": filters,
        },
    )


@require_safe
@cached_page()
def case_detail(request, number: int):
    case = get_case_or_404(number)
    if request.path != case.get_absolute_url():  # /cases/31/ → /cases/031/
        return redirect(case, permanent=True)
    previous, following = case.neighbours()
    return render(
        request,
        "cases/case_detail.html",
        {
            "case": case,
            "previous": previous,
            "following": following,
        },
    )
