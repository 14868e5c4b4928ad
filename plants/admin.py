from django.contrib import admin

from plants.models import Line, Membership, Organisation, Plant

for model in (Organisation, Plant, Membership, Line):
    admin.site.register(model)
