from django.urls import include, path

from ballots import views
from cases import converters

converters.register()

app_name = "ballots"
urlpatterns = [
    path("vote/", views.vote, name="vote"),
    path("batches/<batchno:number>/vote/", views.vote, name="batch_vote"),
    path("vote/thanks/<str:receipt>/", views.confirmation, name="confirmation"),
    path("receipt/<str:code>/", views.receipt, name="receipt"),
    path("results/", views.results, name="results"),
    path("batches/<batchno:number>/results/", views.results, name="batch_results"),
    path("selected/", views.selected, name="selected"),
    path("announcements/", views.announcements, name="announcements"),
    path("announcements/<int:pk>/", views.announcement, name="announcement"),
    path("", include("ballots.follow.urls")),
]
