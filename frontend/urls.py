from django.contrib.auth import views as auth_views
from django.urls import path

from frontend import views

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(template_name="frontend/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("labels/print/", views.labels_print, name="labels-print"),
    path("labels/sheet.pdf", views.labels_sheet_pdf, name="labels-sheet-pdf"),
    path("verify/<str:digest>", views.verify, name="verify"),
    path("verify/<str:digest>/", views.verify),
    # The workers' app: shell, manifest and service worker at the root scope, and its message catalogues.
    path("app/", views.app_shell, name="app"),
    path("manifest.webmanifest", views.web_manifest, name="web-manifest"),
    path("sw.js", views.service_worker, name="service-worker"),
    path("jsi18n/<str:language>.json", views.js_catalogue, name="js-catalogue"),
]
