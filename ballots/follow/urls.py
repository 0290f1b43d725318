"""The follow gates' pages. Included by ballots.urls, so the names stay `ballots:…`; each
gate's views answer 404 while the other gate is the configured backend."""

from django.urls import path, re_path

from ballots.follow import views

local_gate = [
    path("follow/<str:token>/", views.follow, name="follow"),
    path("follow/<str:token>/qr.png", views.follow_qr, name="follow_qr"),
]
wechat_gate = [
    path("wechat/callback/", views.wechat_callback, name="wechat_callback"),
    path("wechat/events/", views.wechat_events, name="wechat_events"),
    path("wechat/qr.png", views.wechat_qr, name="wechat_qr"),
    # The file WeChat fetches from the site's root to accept it as 网页授权域名.
    re_path(r"^(?P<name>MP_verify_[A-Za-z0-9]{1,64}\.txt)$", views.wechat_verify_file),
]
urlpatterns = local_gate + wechat_gate
