from django.core.management.base import BaseCommand, CommandError

from audit.services import log_verify


class Command(BaseCommand):
    help = "Walk the hash-chained event log and report the first broken link."

    def handle(self, *args, **options):
        count, broken = log_verify()
        if broken:
            raise CommandError(f"event log broken at entry #{broken.entry_id}: {broken.reason} ({count} entries read)")
        self.stdout.write(f"event log intact: {count} entries")
