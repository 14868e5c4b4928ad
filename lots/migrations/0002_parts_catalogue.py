from django.db import migrations


def load_catalogue(apps, schema_editor):
    from lots.catalogue import CATALOGUES

    Part = apps.get_model("lots", "Part")
    for kind, parts in CATALOGUES.items():
        for order, (code, name_ja, name_en, legal) in enumerate(parts):
            Part.objects.update_or_create(
                kind=kind, code=code,
                defaults={"name_ja": name_ja, "name_en": name_en, "legally_required": legal, "sort_order": order},
            )


class Migration(migrations.Migration):
    dependencies = [("lots", "0001_initial")]
    operations = [migrations.RunPython(load_catalogue, migrations.RunPython.noop)]
