"""Colour measure: the body colour an image shows, and its distance to a target.

The recipe multiplies a shape's shading by the body colour, with a pattern in a
contrasting tone on a minority of pixels. So the body is the largest group of
pixels sharing one chromaticity (colour with brightness divided out), and its
colour is that chromaticity at the body's bright end (where the shading is
close to 1). Errors are CIE76 Delta-E in Lab: about 2.3 is a just-noticeable
difference, 10 is "clearly the same named colour".
"""

from __future__ import annotations

import numpy as np

FOREGROUND = 0.25  # of the image's brightest pixel: dimmer pixels are background/edge
SAME_CHROMA = 0.06  # L1 distance in chromaticity that still counts as the body colour
BRIGHT_END = 99  # percentile of body brightness taken as "shading 1" (max is outlier-prone)


def estimate_body_colour(images: np.ndarray) -> np.ndarray:
    """(N, H, W, 3) uint8 -> (N, 3) RGB in [0, 1]: each image's body colour."""
    out = np.zeros((len(images), 3))
    for k, image in enumerate(images.astype(np.float64) / 255.0):
        pixels = image.reshape(-1, 3)
        brightness = pixels.sum(axis=1)
        if brightness.max() <= 0:
            continue  # a black image has no body; (0, 0, 0) is its honest estimate
        body = pixels[brightness >= FOREGROUND * brightness.max()]
        total = body.sum(axis=1, keepdims=True)
        chroma = body / total
        centre = np.median(chroma, axis=0)
        same = np.abs(chroma - centre).sum(axis=1) <= SAME_CHROMA
        bright = np.percentile(total[same, 0] if same.any() else total[:, 0], BRIGHT_END)
        out[k] = np.clip(centre / centre.sum() * bright, 0.0, 1.0)
    return out


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """(N, 3) sRGB in [0, 1] -> (N, 3) CIE Lab (D65 white)."""
    rgb = np.asarray(rgb, dtype=np.float64)
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    to_xyz = np.array([[0.4124564, 0.3575761, 0.1804375],
                       [0.2126729, 0.7151522, 0.0721750],
                       [0.0193339, 0.1191920, 0.9503041]])
    xyz = linear @ to_xyz.T / np.array([0.95047, 1.0, 1.08883])
    epsilon, kappa = 216 / 24389, 24389 / 27
    f = np.where(xyz > epsilon, np.cbrt(xyz), (kappa * xyz + 16) / 116)
    return np.stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]),
                     200 * (f[:, 1] - f[:, 2])], axis=1)


def delta_e76(rgb_a: np.ndarray, rgb_b: np.ndarray) -> np.ndarray:
    """(N,) Euclidean distances in Lab between two (N, 3) sRGB arrays."""
    return np.linalg.norm(srgb_to_lab(rgb_a) - srgb_to_lab(rgb_b), axis=1)
