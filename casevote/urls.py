from django.contrib import admin
from django.urls import include, path

from casevote.views import favicon, healthz

admin.site.site_header = "投票组委会管理"
admin.site.site_title = "投票组委会管理"
admin.site.index_title = "管理首页"

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    # Browsers ask for /favicon.ico on pages that name no icon (the admin's): no 404s.
    path("favicon.ico", favicon),
    path("admin/", admin.site.urls),
    path("", include("cases.urls")),
    path("", include("ballots.urls")),
    path("", include("reports.urls")),
]
