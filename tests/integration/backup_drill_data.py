"""What the backup drill adds to `load_demo` in its scratch database, run there with
`manage.py shell -c "from tests.integration.backup_drill_data import enrich; enrich()"`.

`load_demo` keeps raw logger files and issues first revisions only; a real plant also keeps evidence photos and
has certificates superseded by late analyses, and the drill must show that both survive a restore.
"""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.utils import timezone
from PIL import Image

from lots import services
from lots.certificates import lot_certificate, shipment_certificate
from lots.models import Dismantling, Lot, Shipment
from lots.photos import photo_keep
from plants.models import Plant


def _png(colour: tuple[int, int, int], size: tuple[int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


def enrich() -> None:
    admin = get_user_model().objects.get(username="admin")
    for index, plant in enumerate(Plant.objects.order_by("code")):
        dismantling = Dismantling.objects.filter(product__plant=plant).order_by("pk").first()
        photo_keep(plant=plant, data=_png((200, 40 * index, 30), (64, 48)), purpose="dismantling", actor=admin,
                   product=dismantling.product, dismantling=dismantling)
        photo_keep(plant=plant, data=_png((20, 90, 160 + 40 * index), (48, 64)), purpose="nameplate", actor=admin,
                   product=dismantling.product, ocr_text="SANDEN SVM-30A")
        # A late magnetic analysis changes the lot's figures: its certificate and its shipment's get a revision 2.
        lot = Lot.objects.filter(plant=plant, code__endswith="pattern_1").get()
        services.analysis_record(lot=lot, fraction="magnetic", cu_mass_pct=Decimal("0.21"), cr_mass_pct=Decimal("0.34"),
                                 method="handheld XRF, ~100 pieces", sampled_on=timezone.localdate(timezone=dt.UTC) - dt.timedelta(days=1),
                                 actor=admin)
        lot_certificate(lot)
        for shipment in Shipment.objects.filter(allocations__lot=lot):
            shipment_certificate(shipment)
