"""A shared map's big data as files every session's browser fetches, instead of inline in every session's message.

A map shared by every session of a workspace revision (:func:`ui.state.shared_map`) is rendered once, but
streamlit-folium sends its whole script to each session: for the demo county's Data page 6.4 MB, which the
server serialises and each browser decodes, hands to the map's frame and parses as JavaScript, eight times over
for eight officers, including layers that are off at start. :func:`externalize` writes each big GeoJSON layer
(as JSON) and each big image (as its own file) once under ``static/shared/`` (served by Streamlit's static
serving, like Leaflet), named by the hash of its content, and leaves only the address in the script:

- a GeoJSON layer (:class:`ui.map_view.StyledGeoJson`) is fetched by the browser when it is first put on the
  map (a layer off at start costs nothing until it is turned on, or until the find box searches it);
  ``GisMap.pending`` counts the fetches under way;
- an image (the hillshade, a raster layer) is loaded by Leaflet from its address.

A GeoJSON layer is written twice: as ``<hash>.json`` and, compressed once with gzip, as ``<hash>.json.gz``,
whose address the map uses. Streamlit's server (Starlette's ``GZipMiddleware``) compresses every response
of ``/app/static/`` again for every request (level 5: 26 ms of server CPU per MB of the demo county's layer
files, measured), eight times over for eight officers; a ``.gz`` file is served as it is (``application/gzip``,
which the middleware leaves alone) and the browser inflates it itself (``DecompressionStream``, in every
browser since 2023; an older one fetches the plain file). The demo county's layer files: 9.8 MB of JSON,
1.45 MB compressed.

Offline as before: the files come from the app server itself. When ``static/shared/`` cannot be written (a
read-only installation) the data stays inline. The folder is bounded (``SHARED_FILES_MB``, oldest first out,
a file in use is renewed when it is used again); its content is derived data, made again when missing.
Maps written to files for people (HTML downloads, printed maps) are not touched: only the shared page maps.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import logging
import os
import threading
from pathlib import Path

from layers import settings
from ui.assets import STATIC_DIR, STATIC_URL

log = logging.getLogger(__name__)

SHARED_DIR = STATIC_DIR / "shared"
SHARED_URL = f"{STATIC_URL}/shared"
#: data smaller than this stays inline (a file costs the browser one more request)
INLINE_MAX_BYTES = 64_000

_lock = threading.Lock()
_IMAGE_TYPES = {"image/webp": ".webp", "image/png": ".png", "image/jpeg": ".jpg"}


def publish(data: bytes, suffix: str, *, folder: Path | None = None, compressed: bool = False) -> str | None:
    """Write ``data`` once as ``<sha256>.<suffix>`` in the shared folder; its address, or None when it cannot be
    written (the caller keeps the data inline).

    The name is the content's hash: sessions and processes writing the same data write the same file
    (written to a temporary name and renamed, so a browser never reads half of one). ``compressed`` also writes
    ``<sha256>.<suffix>.gz`` (gzip, compressed once here, the same bytes every time) and returns its address;
    the plain file stays beside it for a browser that cannot inflate gzip itself.
    """
    folder = SHARED_DIR if folder is None else folder
    name = hashlib.sha256(data).hexdigest()[:32] + suffix
    files = {folder / name: data}
    if compressed:
        files[folder / (name + ".gz")] = None
    wrote = False
    try:
        for path, content in files.items():
            if path.exists():
                os.utime(path)                     # in use again: the newest for the pruning
                continue
            if content is None:                    # compressed only when it is not there yet
                content = gzip.compress(data, compresslevel=6, mtime=0)
            folder.mkdir(parents=True, exist_ok=True)
            tmp = folder / f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp"
            tmp.write_bytes(content)
            os.replace(tmp, path)
            wrote = True
        if wrote:
            _prune(folder, keep=set(files))
    except OSError as e:
        log.info("map data kept inline (%s not writable: %s)", folder, e)
        return None
    path = list(files)[-1]
    return f"{SHARED_URL}/{path.name}" if folder == SHARED_DIR else str(path)


def _prune(folder: Path, *, keep: set[Path], budget_mb: float | None = None) -> None:
    """Delete the least recently used files beyond the folder's budget (never those in ``keep``)."""
    budget_mb = settings.SHARED_MAP_FILES_MB if budget_mb is None else budget_mb
    with _lock:
        files = []
        for p in folder.iterdir():
            try:
                st = p.stat()
            except OSError:
                continue
            files.append((st.st_mtime, st.st_size, p))
        total = sum(s for _, s, _ in files)
        for _, size, p in sorted(files, key=lambda f: f[0]):
            if total <= budget_mb * 1e6:
                break
            if p not in keep:
                p.unlink(missing_ok=True)
                total -= size


def _image_file(url: str) -> tuple[bytes, str] | None:
    """The bytes and file suffix of a base64 ``data:`` image address, or None for anything else."""
    head, _, b64 = url.partition(",")
    if not head.startswith("data:") or not head.endswith(";base64"):
        return None
    suffix = _IMAGE_TYPES.get(head[5:-7])
    return None if suffix is None else (base64.b64decode(b64), suffix)


def externalize(m, *, inline_max: int = INLINE_MAX_BYTES) -> dict[str, int]:
    """Move the big GeoJSON layers and images of folium map ``m`` (before it is rendered) to shared files.

    Parameters
    ----------
    m : folium.Map
        A map from :func:`ui.map_view.build_map`; changed in place.
    inline_max : int
        Data of at most this many bytes stays inline.

    Returns
    -------
    dict
        ``{"layers": n, "images": n, "bytes": n}``: what went to files.
    """
    from folium.raster_layers import ImageOverlay

    from ui.map_view import StyledGeoJson

    out = {"layers": 0, "images": 0, "bytes": 0}
    if settings.SHARED_MAP_FILES_MB <= 0:
        return out
    for el in _walk(m):
        if isinstance(el, StyledGeoJson) and el.url is None:
            # as the page would carry it inline: a big layer of points by column (GisMap.load unpacks it)
            data = json.dumps(el.page_data(), ensure_ascii=False, separators=(",", ":")).encode()
            if len(data) > inline_max:
                url = publish(data, ".json", compressed=True)
                if url is not None:
                    el.url = url
                    out["layers"] += 1
                    out["bytes"] += len(data)
        elif isinstance(el, ImageOverlay) and isinstance(el.url, str) and len(el.url) > inline_max:
            image = _image_file(el.url)
            if image is not None:
                url = publish(*image)
                if url is not None:
                    el.url = url
                    out["images"] += 1
                    out["bytes"] += len(image[0])
    return out


def _walk(el):
    yield el
    for child in list(getattr(el, "_children", {}).values()):
        yield from _walk(child)
