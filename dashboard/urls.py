from django.urls import path

from dashboard import views

urlpatterns = [
    path("dashboard/", views.today, name="dashboard"),
    path("dashboard/lots/", views.lot_list, name="dashboard-lots"),
    path("dashboard/lots/<int:pk>/", views.lot_detail, name="dashboard-lot"),
    path("exports/<str:kind>.csv", views.export, name="export"),
    path("buyer/", views.buyer_portal, name="buyer-portal"),
    path("verify/<str:digest>.pdf", views.certificate_pdf_view, name="certificate-pdf"),
]
