from django.urls import path

from ballots import views
from ballots.follow import views as follow_views

app_name = "ballots"
urlpatterns = [
    path("vote/", views.vote, name="vote"),
    path("vote/thanks/<str:receipt>/", views.confirmation, name="confirmation"),
    path("receipt/<str:code>/", views.receipt, name="receipt"),
    path("results/", views.results, name="results"),
    path("selected/", views.selected, name="selected"),
    path("announcements/", views.announcements, name="announcements"),
    path("announcements/<int:pk>/", views.announcement, name="announcement"),
    path("follow/<str:token>/", follow_views.follow, name="follow"),
    path("follow/<str:token>/qr.png", follow_views.follow_qr, name="follow_qr"),
    path("wechat/callback/", follow_views.wechat_callback, name="wechat_callback"),
    path("wechat/events/", follow_views.wechat_events, name="wechat_events"),
    path("wechat/qr.png", follow_views.wechat_qr, name="wechat_qr"),
]
