from django.contrib import admin
from django.urls import include, path

from casevote.views import healthz

admin.site.site_header = "投票组委会管理"
admin.site.site_title = "投票组委会管理"
admin.site.index_title = "管理首页"

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("", include("cases.urls")),
    path("", include("ballots.urls")),
]
