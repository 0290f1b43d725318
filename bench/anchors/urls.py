from django.urls import path

from bench.anchors.tutorial import views

urlpatterns = [
    path("bare", views.bare, name="bare"),
    path("", views.index, name="index"),
    path("cases/<int:number>/", views.detail, name="detail"),
    path("vote/", views.vote, name="vote"),
]
