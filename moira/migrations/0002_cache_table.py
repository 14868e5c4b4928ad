from django.core.management import call_command
from django.db import migrations


def create_cache_table(apps, schema_editor):
    # A migration rather than a deploy step, so that every database that is migrated (demo, tests, bench) has it.
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


def drop_cache_table(apps, schema_editor):
    schema_editor.execute("DROP TABLE IF EXISTS moira_cache")


class Migration(migrations.Migration):
    dependencies = [("moira", "0001_initial")]
    operations = [migrations.RunPython(create_cache_table, drop_cache_table)]
