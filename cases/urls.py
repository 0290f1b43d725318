from django.urls import path, register_converter

from cases import views
from cases.converters import CaseNumberConverter

register_converter(CaseNumberConverter, "caseno")

app_name = "cases"
urlpatterns = [
    path("", views.campaign, name="campaign"),
    path("cases/<caseno:number>/", views.case_detail, name="detail"),
]
