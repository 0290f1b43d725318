from django.urls import path

from reports import views

app_name = "reports"
urlpatterns = [
    path("report/", views.report, name="report"),
    path("report/status/", views.status, name="status"),
]
