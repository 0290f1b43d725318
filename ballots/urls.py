from django.urls import include, path

from ballots import views

app_name = "ballots"
urlpatterns = [
    path("vote/", views.vote, name="vote"),
    path("vote/thanks/<str:receipt>/", views.confirmation, name="confirmation"),
    path("receipt/<str:code>/", views.receipt, name="receipt"),
    path("results/", views.results, name="results"),
    path("selected/", views.selected, name="selected"),
    path("announcements/", views.announcements, name="announcements"),
    path("announcements/<int:pk>/", views.announcement, name="announcement"),
    path("", include("ballots.follow.urls")),
]
