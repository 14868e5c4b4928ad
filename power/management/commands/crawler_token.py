from django.core.management.base import BaseCommand, CommandError

from plants.models import Plant
from power.models import CrawlerToken
from power.services import crawler_token_create, crawler_token_revoke


class Command(BaseCommand):
    help = "Create a crawler token for a plant (printed once), list its tokens, or revoke one."

    def add_arguments(self, parser):
        parser.add_argument("plant_code")
        parser.add_argument("--name", default="", help="Which Pi will hold the token.")
        parser.add_argument("--list", action="store_true", help="List the plant's tokens instead.")
        parser.add_argument("--revoke", type=int, metavar="TOKEN_ID", help="Revoke the token with this id.")

    def handle(self, plant_code, name, list, revoke, **options):
        plant = Plant.objects.filter(code=plant_code).first()
        if plant is None:
            raise CommandError(f"No plant with code {plant_code!r}.")
        if list:
            for token in plant.crawler_tokens.order_by("id"):
                state = f"revoked {token.revoked_at:%Y-%m-%d}" if token.revoked_at else "active"
                self.stdout.write(f"#{token.pk} {token.name or '-'} {state} last used {token.last_used_at or 'never'}")
            return
        if revoke is not None:
            token = CrawlerToken.objects.filter(plant=plant, pk=revoke).first()
            if token is None:
                raise CommandError(f"Plant {plant_code} has no token #{revoke}.")
            crawler_token_revoke(token=token)
            self.stdout.write(f"Token #{revoke} of {plant_code} revoked.")
            return
        token, key = crawler_token_create(plant=plant, name=name)
        self.stderr.write(f"Token #{token.pk} for plant {plant_code}; put this line in crawler.toml [server] (shown once):")
        self.stdout.write(key)
