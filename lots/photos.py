"""Photos from the shop floor: bounded, decoded once, kept byte for byte as evidence."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile

from lots import imaging
from lots.models import Dismantling, Photo, Product
from moira.services import save_and_log
from plants.models import Plant


def image_open(data: bytes):
    """Open an uploaded photo within the configured bounds, or raise a field error on `image`."""
    try:
        return imaging.open_bounded_image(data, max_bytes=settings.MOIRA_MAX_UPLOAD_BYTES, max_pixels=settings.MOIRA_MAX_IMAGE_PIXELS)
    except imaging.ImageRejected as exc:
        raise ValidationError({"image": [str(exc).removeprefix("image: ")]}) from exc


def photo_keep(*, plant: Plant, data: bytes, purpose: str, actor, product: Product | None = None,
               dismantling: Dismantling | None = None, ocr_text: str = "") -> Photo:
    digest = hashlib.sha256(data).hexdigest()
    photo = Photo(plant=plant, product=product, dismantling=dismantling, purpose=purpose, sha256=digest, ocr_text=ocr_text,
                  created_by=actor)
    photo.image.save(f"{digest}.img", ContentFile(data), save=False)
    return save_and_log(photo, action=f"photo.{purpose}", actor=actor, plant=plant,
                        payload={"sha256": digest, "product": product.pk if product else None,
                                 "dismantling": dismantling.pk if dismantling else None})
