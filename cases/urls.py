from django.urls import path

from cases import converters, views

converters.register()

app_name = "cases"
urlpatterns = [
    path("", views.campaign, name="campaign"),
    path("batches/<batchno:number>/", views.batch_page, name="batch"),
    path("cases/<caseno:number>/", views.case_detail, name="detail"),
    path("cases/<caseno:number>/poster.png", views.case_poster, name="poster"),
]
