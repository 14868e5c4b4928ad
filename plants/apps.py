from django.apps import AppConfig


class PlantsConfig(AppConfig):
    name = "plants"
    verbose_name = "Organisations and plants"
