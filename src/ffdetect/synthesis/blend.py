"""Forgeries made from real faces: self-blended images (SBI) and face swaps between two people.

Self-blending follows Shiohara and Yamasaki, "Detecting Deepfakes with Self-Blended Images"
(CVPR 2022): a face is blended with a copy of itself, the *source*, inside a face mask. Source and
target are the same photo; one of them gets a colour jitter (RGB shift, hue/saturation,
brightness/contrast) and a frequency jitter (down-and-up sampling, or sharpening), the source also
a small resize and shift (a face that does not quite fit its head). The mask is the convex hull of
the face, randomly deformed, eroded or dilated and blurred, times a blend ratio. The result has
the blending boundary and the statistical mismatch of a face swap without any identity change:
training data made from real faces only.

The paper's mask is the hull of 81 landmarks; detectors here give five (eyes, nose, mouth
corners), so :func:`face_outline` builds the face oval from them (brow to chin, cheek to cheek).

:func:`face_swap` is a different forgery, used to *test* detectors trained on self-blends: another
person's face, aligned on the five landmarks, colour-matched and pasted with Poisson blending
(OpenCV's ``seamlessClone``) or a soft alpha mask.
"""

from __future__ import annotations

import cv2
import numpy as np

#: Blend ratios of the SBI paper (drawn uniformly; full blends twice as likely).
BLEND_RATIOS = (0.25, 0.5, 0.75, 1.0, 1.0, 1.0)


def face_outline(landmarks: np.ndarray, n_points: int = 20, scale: float = 1.0) -> np.ndarray:
    """An ``(n_points, 2)`` polygon around the face of five landmarks (image left eye, right eye,
    nose, left and right mouth corner): an ellipse from the brows to the chin and between the
    cheeks, turned with the eye line. ``scale`` grows or shrinks it about its centre."""
    pts = np.asarray(landmarks, dtype=np.float64).reshape(5, 2)
    eyes, mouth = pts[:2].mean(axis=0), pts[3:].mean(axis=0)
    across = pts[1] - pts[0]
    eye_gap = max(float(np.hypot(*across)), 1.0)
    down = mouth - eyes
    drop = max(float(np.hypot(*down)), 0.5 * eye_gap)
    ux = across / eye_gap
    uy = np.array([-ux[1], ux[0]])
    if np.dot(uy, down) < 0:
        uy = -uy
    centre = eyes + uy * drop * 0.55
    half_w, half_h = 1.0 * eye_gap * scale, 1.2 * drop * scale
    angles = np.linspace(0.0, 2.0 * np.pi, n_points, endpoint=False)
    return centre + np.outer(np.cos(angles) * half_w, ux) + np.outer(np.sin(angles) * half_h, uy)


def _filled_region(
    shape: tuple[int, int],
    landmarks: np.ndarray | None,
    rng: np.random.Generator,
    deform: float,
    outline: str,
) -> np.ndarray:
    """The hard (0/255) region of :func:`face_mask`, before erosion and blur."""
    h, w = shape
    mask = np.zeros((h, w), dtype=np.uint8)
    if landmarks is None or len(landmarks) < 3:
        axes = (int(w * rng.uniform(0.30, 0.38)), int(h * rng.uniform(0.38, 0.46)))
        cv2.ellipse(mask, (w // 2, int(h * 0.52)), axes, 0, 0, 360, 255, -1)
        return mask
    if outline == "hull":
        pts = np.asarray(landmarks, dtype=np.float32)
        centre = pts.mean(axis=0)
        polygon = (centre + (pts - centre) * 1.6).astype(np.int32)
    else:
        poly = face_outline(landmarks, scale=rng.uniform(0.9, 1.1) if deform else 1.0)
        if deform > 0:
            size = float(np.ptp(poly, axis=0).max())
            poly = poly + rng.uniform(-deform, deform, size=poly.shape) * size
        polygon = np.round(poly).astype(np.int32)
    cv2.fillConvexPoly(mask, cv2.convexHull(polygon), 255)
    return mask


def face_mask(
    shape: tuple[int, int],
    landmarks: np.ndarray | None,
    rng: np.random.Generator,
    deform: float = 0.0,
    outline: str = "face",
) -> np.ndarray:
    """A soft mask in [0, 1] of ``shape``: the face polygon (:func:`face_outline` from five
    landmarks, each vertex moved by up to ``deform`` of the face size: the paper's random
    deformation), or with ``outline="hull"`` the landmarks' hull grown 1.6 times (the learning
    task's), or a centred ellipse without landmarks; randomly dilated or eroded, then blurred."""
    h, w = shape
    mask = _filled_region(shape, landmarks, rng, deform, outline)
    k = max(1, int(min(h, w) * rng.uniform(0.02, 0.06)))
    kernel = np.ones((k, k), np.uint8)
    mask = cv2.dilate(mask, kernel) if rng.random() < 0.5 else cv2.erode(mask, kernel)
    sigma = min(h, w) * rng.uniform(0.03, 0.08)
    soft = cv2.GaussianBlur(mask.astype(np.float32) / 255.0, (0, 0), sigma)
    return np.clip(soft / max(float(soft.max()), 1e-6), 0.0, 1.0)


def colour_jitter(image: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """SBI's colour transform of a float RGB image (0-255): RGB shift (+-20, p=0.3), hue,
    saturation and value (+-0.3 of their ranges' tenth: a few degrees of hue) and
    brightness/contrast (+-0.1), each range times ``strength``."""
    img = image.astype(np.float32)
    if rng.random() < 0.3:
        img = img + rng.uniform(-20, 20, size=(1, 1, 3)) * strength
    hsv = cv2.cvtColor(np.clip(img, 0, 255).astype(np.uint8), cv2.COLOR_RGB2HSV).astype(np.float32)
    hsv[..., 0] = (hsv[..., 0] + rng.uniform(-5, 5) * strength) % 180
    hsv[..., 1] = hsv[..., 1] * (1 + rng.uniform(-0.3, 0.3) * strength)
    hsv[..., 2] = hsv[..., 2] * (1 + rng.uniform(-0.1, 0.1) * strength)
    img = cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2RGB).astype(np.float32)
    mean = img.mean()
    contrast, brightness = 1 + rng.uniform(-0.1, 0.1) * strength, rng.uniform(-0.1, 0.1) * strength
    return (img - mean) * contrast + mean * (1 + brightness)


def frequency_jitter(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """SBI's frequency transform of a float image: down-and-up sampling by 2-4x, or sharpening."""
    h, w = image.shape[:2]
    if rng.random() < 0.5:
        f = rng.uniform(2.0, 4.0)
        small = cv2.resize(image, (max(1, int(w / f)), max(1, int(h / f))), cv2.INTER_AREA)
        return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    amount = rng.uniform(0.2, 0.5)
    return cv2.addWeighted(image, 1 + amount, cv2.GaussianBlur(image, (0, 0), 1.0), -amount, 0)


def _resize_shift(image: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """The source's geometric jitter: scale 1 +- 0.05 and shift +- 3 % (times ``strength``)."""
    h, w = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), 0.0, 1 + rng.uniform(-0.05, 0.05) * strength)
    matrix[:, 2] += rng.uniform(-0.03, 0.03, size=2) * strength * (w, h)
    return cv2.warpAffine(image, matrix, (w, h), borderMode=cv2.BORDER_REFLECT)


def source_and_target(
    face: np.ndarray, rng: np.random.Generator, strength: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """SBI's source-target generator: two float copies of an RGB uint8 face, one of them (drawn)
    colour- and frequency-jittered; the source also resized and shifted."""
    source, target = face.astype(np.float32), face.astype(np.float32)
    jittered = frequency_jitter(colour_jitter(face, rng, strength), rng)
    if rng.random() < 0.5:
        source = jittered
    else:
        target = jittered
    return _resize_shift(source, rng, strength), target


def legacy_jitter(
    face: np.ndarray, rng: np.random.Generator, colour: bool, strength: float
) -> np.ndarray:
    """The learning task's jitter of the pasted copy: brightness/contrast (a per-channel shift for
    colour faces), scale and shift, sometimes blur or sharpening; the target stays untouched."""
    img = face.astype(np.float32)
    h, w = img.shape[:2]
    img = img * (1 + rng.uniform(-0.1, 0.1) * strength) + rng.uniform(-12, 12) * strength
    if colour:
        img = img + rng.uniform(-10, 10, size=(1, 1, 3)) * strength
    scale = 1 + rng.uniform(-0.05, 0.05) * strength
    shift = rng.uniform(-0.02, 0.02, size=2) * strength * (w, h)
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), 0.0, scale)
    matrix[:, 2] += shift
    img = cv2.warpAffine(img, matrix, (w, h), borderMode=cv2.BORDER_REFLECT)
    choice = rng.random()
    if choice < 0.3:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.5, 1.2))
    elif choice < 0.6:
        img = cv2.addWeighted(img, 1.5, cv2.GaussianBlur(img, (0, 0), 1.0), -0.5, 0)
    return img


def _check_rgb(face: np.ndarray) -> None:
    if face.dtype != np.uint8 or face.ndim != 3:
        raise ValueError(f"expected an RGB uint8 face, got {face.dtype} {face.shape}")


def self_blend(
    face: np.ndarray,
    rng: np.random.Generator,
    landmarks: np.ndarray | None = None,
    colour: bool = True,
    strength: float = 1.0,
) -> np.ndarray:
    """A self-blended fake of an RGB uint8 face crop (same size), the learning task's simple
    variant: the copy (:func:`legacy_jitter`) pasted inside the grown landmark hull (or a centred
    ellipse). ``colour=False`` keeps the jitter identical in all channels (grey faces)."""
    _check_rgb(face)
    mask = face_mask(face.shape[:2], landmarks, rng, outline="hull")[..., None]
    mask = mask * rng.choice([0.5, 0.75, 1.0, 1.0])
    blended = mask * legacy_jitter(face, rng, colour, strength) + (1.0 - mask) * face
    return np.clip(blended.round(), 0, 255).astype(np.uint8)


def sbi_blend(
    image: np.ndarray,
    landmarks: np.ndarray,
    rng: np.random.Generator,
    strength: float = 1.0,
    deform: float = 0.04,
    outline: str = "face",
) -> np.ndarray:
    """A self-blended image in the SBI recipe (:func:`source_and_target`, a deformed
    :func:`face_outline` mask, or the grown landmark hull with ``outline="hull"``, a ratio from
    :data:`BLEND_RATIOS`), same size as the RGB uint8 ``image``; ``landmarks`` are the face's five
    points in its pixels."""
    _check_rgb(image)
    source, target = source_and_target(image, rng, strength)
    mask = face_mask(image.shape[:2], landmarks, rng, deform=deform, outline=outline)[..., None]
    mask = mask * rng.choice(BLEND_RATIOS)
    return np.clip((mask * source + (1.0 - mask) * target).round(), 0, 255).astype(np.uint8)


def _match_colour(donor: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``donor`` with the mean and standard deviation of ``target`` inside ``mask``, per Lab
    channel (Reinhard's colour transfer), as face-swap tools do before pasting."""
    inside = mask > 0.5
    d_lab = cv2.cvtColor(donor, cv2.COLOR_RGB2LAB).astype(np.float32)
    t_lab = cv2.cvtColor(target, cv2.COLOR_RGB2LAB).astype(np.float32)
    for c in range(3):
        d, t = d_lab[..., c][inside], t_lab[..., c][inside]
        if d.size:
            d_lab[..., c] = (d_lab[..., c] - d.mean()) * (t.std() / max(d.std(), 1e-3)) + t.mean()
    return cv2.cvtColor(np.clip(d_lab, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)


def warp_donor(
    donor: np.ndarray,
    donor_landmarks: np.ndarray,
    target_landmarks: np.ndarray,
    shape: tuple[int, int],
) -> np.ndarray:
    """The RGB uint8 ``donor`` photo warped (similarity) so that its five landmarks fall on
    ``target_landmarks``, in an image of ``shape`` (borders reflected)."""
    _check_rgb(donor)
    matrix, _ = cv2.estimateAffinePartial2D(
        np.asarray(donor_landmarks, np.float32), np.asarray(target_landmarks, np.float32)
    )
    if matrix is None:
        raise ValueError("cannot align the donor face on the target's landmarks")
    h, w = shape
    return cv2.warpAffine(
        donor, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
    )


def masked_swap(
    target: np.ndarray,
    target_landmarks: np.ndarray,
    donor: np.ndarray,
    donor_landmarks: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """An identity swap made the way SBI makes its blends, for *training*: another person's face
    (:func:`warp_donor`), colour-matched inside the face (p 0.7) and sometimes down-and-up sampled
    or sharpened (:func:`frequency_jitter`, p 0.5), blended into ``target`` inside a deformed
    :func:`face_mask` at a ratio of 0.75 or 1. The held-out swaps (:func:`face_swap`: Poisson or a
    blurred alpha oval) are made otherwise."""
    _check_rgb(target)
    h, w = target.shape[:2]
    warped = warp_donor(donor, donor_landmarks, target_landmarks, (h, w))
    mask = face_mask((h, w), target_landmarks, rng, deform=0.04)
    if rng.random() < 0.7:
        warped = _match_colour(warped, target, mask)
    source = warped.astype(np.float32)
    if rng.random() < 0.5:
        source = frequency_jitter(source, rng)
    alpha = (mask * rng.choice([0.75, 1.0, 1.0]))[..., None]
    out = alpha * source + (1.0 - alpha) * target.astype(np.float32)
    return np.clip(out.round(), 0, 255).astype(np.uint8)


def face_swap(
    target: np.ndarray,
    target_landmarks: np.ndarray,
    donor: np.ndarray,
    donor_landmarks: np.ndarray,
    rng: np.random.Generator,
    method: str = "poisson",
) -> np.ndarray:
    """``target`` (RGB uint8) with its face replaced by the face of ``donor``, another person:
    the donor photo is warped onto the target's five landmarks (similarity), colour-matched inside
    the face oval, then pasted with Poisson blending (``method="poisson"``) or a blurred alpha
    mask (``"alpha"``)."""
    _check_rgb(target)
    h, w = target.shape[:2]
    warped = warp_donor(donor, donor_landmarks, target_landmarks, (h, w))
    polygon = face_outline(target_landmarks, scale=rng.uniform(0.85, 0.95))
    hard = np.zeros((h, w), np.uint8)
    cv2.fillConvexPoly(hard, cv2.convexHull(np.round(polygon).astype(np.int32)), 255)
    warped = _match_colour(warped, target, hard.astype(np.float32) / 255.0)
    if method == "poisson":
        ys, xs = np.nonzero(hard)
        if not len(xs):
            raise ValueError("the face lies outside the image")
        x0, x1, y0, y1 = xs.min(), xs.max(), ys.min(), ys.max()
        if x0 < 1 or y0 < 1 or x1 >= w - 1 or y1 >= h - 1:
            hard[[0, -1], :] = 0
            hard[:, [0, -1]] = 0
            ys, xs = np.nonzero(hard)
            x0, x1, y0, y1 = xs.min(), xs.max(), ys.min(), ys.max()
        centre = (int((x0 + x1 + 1) // 2), int((y0 + y1 + 1) // 2))
        return cv2.seamlessClone(warped, target, hard, centre, cv2.NORMAL_CLONE)
    if method != "alpha":
        raise ValueError(f"unknown face-swap method {method!r}; use 'poisson' or 'alpha'")
    size = float(np.ptp(polygon, axis=0).max())
    soft = cv2.GaussianBlur(hard.astype(np.float32) / 255.0, (0, 0), max(1.0, 0.04 * size))
    soft = soft[..., None]
    out = soft * warped.astype(np.float32) + (1 - soft) * target.astype(np.float32)
    return np.clip(out.round(), 0, 255).astype(np.uint8)
