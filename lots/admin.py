from django.contrib import admin

from lots import models

for model in (models.Part, models.ModelProfile, models.Intake, models.Product, models.Label, models.Lot, models.Run,
              models.Output, models.Shipment, models.SortingMethod, models.Calibration, models.Analysis):
    admin.site.register(model)
