from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from lots import api as lots_api
from moira.auth import ObtainTokenView, server_time
from plants import api as plants_api
from power import api as power_api

router = DefaultRouter()
router.register("organisations", plants_api.OrganisationViewSet, basename="organisation")
router.register("plants", plants_api.PlantViewSet, basename="plant")
router.register("lines", plants_api.LineViewSet, basename="line")
router.register("loggers", power_api.LoggerViewSet, basename="logger")
router.register("emission-factors", power_api.EmissionFactorViewSet, basename="emission-factor")
router.register("power/uploads", power_api.UploadViewSet, basename="upload")
router.register("parts", lots_api.PartViewSet, basename="part")
router.register("model-profiles", lots_api.ModelProfileViewSet, basename="model-profile")
router.register("intakes", lots_api.IntakeViewSet, basename="intake")
router.register("labels", lots_api.LabelViewSet, basename="label")
router.register("products", lots_api.ProductViewSet, basename="product")
router.register("dismantlings", lots_api.DismantlingViewSet, basename="dismantling")
router.register("sorting-methods", lots_api.SortingMethodViewSet, basename="sorting-method")
router.register("calibrations", lots_api.CalibrationViewSet, basename="calibration")
router.register("lots", lots_api.LotViewSet, basename="lot")
router.register("runs", lots_api.RunViewSet, basename="run")
router.register("outputs", lots_api.OutputViewSet, basename="output")
router.register("analyses", lots_api.AnalysisViewSet, basename="analysis")
router.register("shipments", lots_api.ShipmentViewSet, basename="shipment")
router.register("shipment-alerts", lots_api.ShipmentAlertViewSet, basename="shipment-alert")
router.register("acceptance-conditions", lots_api.AcceptanceConditionViewSet, basename="acceptance-condition")

api_v1 = [
    path("auth/token/", ObtainTokenView.as_view(), name="token"),
    path("power/ping/", power_api.ping, name="power-ping"),
    path("time/", server_time, name="time"),
    path("scans/", lots_api.ScanView.as_view(), name="scans"),
    path("nameplates/", lots_api.NameplateView.as_view(), name="nameplates"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("", include(router.urls)),
]

handler404 = "moira.api.not_found"
handler500 = "moira.api.server_error"

urlpatterns = [
    path("api/v1/", include(api_v1)),
    path("admin/", admin.site.urls),
    path("", include("dashboard.urls")),
    path("", include("frontend.urls")),
]
