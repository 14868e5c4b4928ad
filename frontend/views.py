from __future__ import annotations

import hashlib
import json
from pathlib import Path
from urllib.parse import urlencode

import segno
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import staticfiles_storage
from django.db import transaction
from django.http import Http404, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.utils import translation
from django.utils.translation.trans_real import DjangoTranslation
from django.views.decorators.csrf import ensure_csrf_cookie

from frontend import labelsheet
from lots import codes, services
from lots.catalogue import PATTERN_PRESETS
from lots.certificates import certificate_document
from lots.models import Certificate, Label, LabelStatus, Lot, Shipment
from lots.services import MAX_LABELS_PER_BATCH
from plants.selectors import STAFF_ROLES, WRITE_ROLES, buyer_grants_for, plants_for


@login_required
def home(request):
    plants = plants_for(request.user, STAFF_ROLES)
    lots = Lot.objects.filter(plant__in=plants).select_related("plant").order_by("-id")[:50]
    shipments = Shipment.objects.filter(plant__in=plants).select_related("buyer").order_by("-shipped_at")[:50]
    buyer_shipments = [
        shipment for grant in buyer_grants_for(request.user)
        for shipment in Shipment.objects.filter(plant_id=grant.plant_id, buyer_id=grant.buyer_id).order_by("-shipped_at")[:50]
    ]
    return render(request, "frontend/home.html", {
        "plants": plants, "lots": lots, "shipments": shipments, "buyer_shipments": buyer_shipments,
    })


def verify(request, digest: str):
    """Show a certificate to anyone who holds its digest, and say whether a newer one supersedes it."""
    certificate = Certificate.objects.filter(digest=digest.lower()).select_related("superseded_by").first()
    if certificate is None:
        raise Http404("No certificate has this digest.")
    document = certificate_document(certificate)
    if request.GET.get("format") == "json" or "application/json" in request.headers.get("Accept", ""):
        return JsonResponse(document, json_dumps_params={"ensure_ascii": False})
    return render(request, "frontend/verify.html", {"document": document})


@login_required
def labels_print(request):
    """A printable sheet of issued, unattached labels: QR code plus the code in letters for manual entry."""
    labels = Label.objects.filter(plant__in=plants_for(request.user, WRITE_ROLES), status=LabelStatus.ISSUED).order_by("id")
    if request.GET.get("plant"):
        labels = labels.filter(plant_id=request.GET["plant"])
    if request.GET.get("ids"):
        labels = labels.filter(pk__in=[int(i) for i in request.GET["ids"].split(",") if i.isdigit()])
    sheet = [{"code": label.code, "display": codes.display(label.code), "svg": label_qr_svg(label.code)} for label in labels[:200]]
    return render(request, "frontend/labels_print.html", {"labels": sheet})


def label_qr_svg(code: str) -> str:
    # Error correction level Q survives the scratches and fading the report saw on outdoor labels.
    return segno.make_qr(code, error="q").svg_inline(scale=4, border=2)


# The workers' app (PWA) ----------------------------------------------------------------------------------

# Every static file of the app shell, precached by the service worker. Through {% static %} these resolve
# to content-hashed names in production, so a deploy changes the list and the service worker's version.
SHELL_STATIC = [
    "frontend/app/app.css",
    "frontend/app/app.js",
    "frontend/app/api.js",
    "frontend/app/clock.js",
    "frontend/app/codes.js",
    "frontend/app/i18n.js",
    "frontend/app/queue.js",
    "frontend/app/scan.js",
    "frontend/app/ui.js",
    "frontend/app/flows.js",
    "frontend/vendor/jsQR.js",
    "frontend/icons/icon-192.png",
    "frontend/icons/maskable-192.png",
    "frontend/icons/apple-touch-icon.png",
]
# ES modules import each other by these bare names, mapped to the hashed URLs by the shell's import map.
SHELL_MODULES = {f"moira/{Path(p).stem}": p for p in SHELL_STATIC if p.startswith("frontend/app/") and p.endswith(".js")}
APP_LANGUAGES = [code for code, _ in settings.LANGUAGES]
THEME_COLOUR = "#0b5345"


def _app_language(request) -> str:
    """The worker's choice (cookie), else Japanese: the phone's Accept-Language does not decide."""
    chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
    return chosen if chosen in APP_LANGUAGES else settings.LANGUAGE_CODE


def _file_bytes(path: str) -> bytes:
    found = finders.find(path)
    if found:
        return Path(found).read_bytes()
    try:
        with staticfiles_storage.open(path) as handle:
            return handle.read()
    except (FileNotFoundError, OSError, ValueError):
        return b""


def shell_version() -> str:
    """A digest of everything the service worker precaches, so any change installs a new cache."""
    digest = hashlib.sha256()
    for path in SHELL_STATIC:
        digest.update(static(path).encode())
        digest.update(_file_bytes(path))
    here = Path(__file__).resolve().parent
    for part in sorted((here / "templates" / "frontend").glob("app*.html")) + [here / "templates" / "frontend" / "sw.js"]:
        digest.update(part.read_bytes())
    for mo in sorted((here / "locale").glob("*/LC_MESSAGES/*.mo")):
        digest.update(mo.read_bytes())
    digest.update(json.dumps(PATTERN_PRESETS, sort_keys=True).encode())
    return digest.hexdigest()[:16]


def precache_urls() -> list[str]:
    return ["/app/", "/manifest.webmanifest", *(f"/jsi18n/{lang}.json" for lang in APP_LANGUAGES), *(static(p) for p in SHELL_STATIC)]


@login_required
@ensure_csrf_cookie
def app_shell(request):
    """The workers' app: one page, every screen drawn by the modules; works offline once cached."""
    language = _app_language(request)
    config = {
        "user": request.user.get_username(),
        "language": language,
        "languages": APP_LANGUAGES,
        "presets": PATTERN_PRESETS,
        "api": "/api/v1/",
        "jsqr": static("frontend/vendor/jsQR.js"),
        "version": shell_version(),
    }
    imports = {name: static(path) for name, path in SHELL_MODULES.items()}
    with translation.override(language):
        response = render(request, "frontend/app.html", {
            "config": config, "importmap": json.dumps({"imports": imports}), "theme_colour": THEME_COLOUR, "app_language": language,
        })
    response["Cache-Control"] = "private, no-cache"
    return response


def web_manifest(request):
    manifest = {
        "id": "/app/",
        "name": "Moira 現場アプリ",
        "short_name": "Moira",
        "description": "リサイクル工場のトレーサビリティ: 入荷・ラベル・解体・破砕・計量・出荷",
        "lang": "ja",
        "start_url": "/app/",
        "scope": "/",
        "display": "standalone",
        "orientation": "portrait",
        "background_color": "#ffffff",
        "theme_color": THEME_COLOUR,
        "icons": [
            {"src": static("frontend/icons/icon-192.png"), "sizes": "192x192", "type": "image/png", "purpose": "any"},
            {"src": static("frontend/icons/icon-512.png"), "sizes": "512x512", "type": "image/png", "purpose": "any"},
            {"src": static("frontend/icons/maskable-192.png"), "sizes": "192x192", "type": "image/png", "purpose": "maskable"},
            {"src": static("frontend/icons/maskable-512.png"), "sizes": "512x512", "type": "image/png", "purpose": "maskable"},
        ],
    }
    response = HttpResponse(json.dumps(manifest, ensure_ascii=False), content_type="application/manifest+json; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    return response


def service_worker(request):
    body = render_to_string("frontend/sw.js", {
        "version": shell_version(),
        "precache": json.dumps(precache_urls()),
        "static_prefix": json.dumps(settings.STATIC_URL),
    })
    response = HttpResponse(body, content_type="application/javascript; charset=utf-8")
    # The browser must ask for a new worker on every check; a stale one would pin an old shell.
    response["Cache-Control"] = "no-cache"
    response["Service-Worker-Allowed"] = "/"
    return response


def js_catalogue(request, language: str):
    """The app's messages in one language, {"language", "catalog": {msgid: msgstr}} (domain djangojs)."""
    if language not in APP_LANGUAGES:
        raise Http404("No such language.")
    paths = [str(Path(__file__).resolve().parent / "locale")]
    catalog = {}
    with translation.override(language):
        translated = DjangoTranslation(language, domain="djangojs", localedirs=paths)
        for msgid, msgstr in translated._catalog.items():  # noqa: SLF001 - Django's JavaScriptCatalog does the same
            if isinstance(msgid, str) and msgid:
                catalog[msgid] = msgstr
    response = JsonResponse({"language": language, "catalog": catalog}, json_dumps_params={"ensure_ascii": False})
    response["Cache-Control"] = "no-cache"
    return response


def _id_ranges(ids: list[int]) -> str:
    ids = sorted(ids)
    parts, start = [], None
    for i, value in enumerate(ids):
        if start is None:
            start = value
        if i + 1 == len(ids) or ids[i + 1] != value + 1:
            parts.append(str(start) if start == value else f"{start}-{value}")
            start = None
    return ",".join(parts)


def _parse_id_ranges(text: str) -> list[int]:
    ids: list[int] = []
    for part in text.split(","):
        low, _, high = part.partition("-")
        if low.isdigit() and (not high or high.isdigit()):
            first, last = int(low), int(high or low)
            if 0 < last - first + 1 <= 1000 and len(ids) < 1000:
                ids.extend(range(first, last + 1))
    return ids


def _mm(request, name: str) -> float:
    try:
        return max(-10.0, min(10.0, float(request.GET.get(name, "0"))))
    except ValueError:
        return 0.0


@login_required
def labels_sheet_pdf(request):
    """A4 PDF of QR labels for PET label sheets.

    `?count=N&plant=ID` issues N new codes and redirects to the sheet of exactly those labels
    (`?plant=ID&ids=…`), so reloading, or a PDF viewer's range requests, never issue more codes.
    `skip=K` leaves the first K positions of the first sheet empty; `dx`/`dy` (mm) shift the print.
    """
    plants = plants_for(request.user, WRITE_ROLES)
    plant_id = request.GET.get("plant", "")
    if plant_id:
        plant = plants.filter(pk=plant_id).first() if plant_id.isdigit() else None
    else:
        plant = plants.first() if plants.count() == 1 else None
    if plant is None:
        return HttpResponseBadRequest("plant: give one of your plants, e.g. ?plant=1&count=40", content_type="text/plain; charset=utf-8")
    keep = {k: request.GET[k] for k in ("skip", "dx", "dy") if k in request.GET}
    if "ids" not in request.GET:
        count = request.GET.get("count", "")
        if not count.isdigit() or not 1 <= int(count) <= MAX_LABELS_PER_BATCH:
            return HttpResponseBadRequest(f"count: issue between 1 and {MAX_LABELS_PER_BATCH} labels at a time.",
                                          content_type="text/plain; charset=utf-8")
        with transaction.atomic():
            issued = services.labels_issue(plant=plant, count=int(count), actor=request.user)
        query = urlencode({"plant": plant.pk, "ids": _id_ranges([label.pk for label in issued]), **keep})
        return HttpResponseRedirect(f"{request.path}?{query}", status=303)
    wanted = _parse_id_ranges(request.GET["ids"])
    labels = list(Label.objects.filter(plant=plant, pk__in=wanted, status=LabelStatus.ISSUED).order_by("id"))
    try:
        skip = max(0, min(labelsheet.KLP701S.per_sheet - 1, int(request.GET.get("skip", "0"))))
    except ValueError:
        skip = 0
    caption = f"Moira {plant.code}"
    pdf = labelsheet.render([(label.code, caption) for label in labels], skip=skip,
                            offset_x_mm=_mm(request, "dx"), offset_y_mm=_mm(request, "dy"))
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="moira-labels-{plant.code}-{labels[0].pk if labels else 0}.pdf"'
    response["Cache-Control"] = "private, no-store"
    return response
