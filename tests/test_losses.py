"""Generator losses: the Laplacian pyramid against a float64 NumPy reference, MSE terms."""

from __future__ import annotations

import numpy as np
import torch

from chimeramix.losses import adversarial_loss, laplacian_loss, laplacian_pyramid, reconstruction_loss

TAPS = np.array([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0


def blur(image: np.ndarray) -> np.ndarray:
    """5x5 binomial blur of an H x W float64 image with reflect padding, by explicit sums."""
    padded = np.pad(image, 2, mode="reflect")
    height, width = image.shape
    out = np.zeros_like(image)
    for i in range(5):
        for j in range(5):
            out += TAPS[i] * TAPS[j] * padded[i : i + height, j : j + width]
    return out


def reference_loss(x_hat: np.ndarray, x: np.ndarray, levels: int = 3) -> float:
    """Sum over levels of the mean |band(x̂) - band(x)|, band = I - up(down(I)), on N x C x H x W arrays."""
    total = 0.0
    a, b = x_hat.astype(np.float64), x.astype(np.float64)
    for _ in range(levels):
        bands, downs = [], []
        for images in (a, b):
            band = np.empty_like(images)
            down = np.empty((*images.shape[:2], images.shape[2] // 2, images.shape[3] // 2))
            for n in range(images.shape[0]):
                for c in range(images.shape[1]):
                    low = blur(images[n, c])[::2, ::2]
                    spread = np.zeros_like(images[n, c])
                    spread[::2, ::2] = 4 * low
                    band[n, c] = images[n, c] - blur(spread)
                    down[n, c] = low
            bands.append(band)
            downs.append(down)
        total += float(np.abs(bands[0] - bands[1]).mean())
        a, b = downs
    return total


def test_laplacian_loss_matches_float64_reference() -> None:
    rng = np.random.default_rng(0)
    x_hat = rng.uniform(-1, 1, size=(2, 3, 32, 32)).astype(np.float32)
    x = rng.uniform(-1, 1, size=(2, 3, 32, 32)).astype(np.float32)
    ours = laplacian_loss(torch.from_numpy(x_hat), torch.from_numpy(x)).item()
    assert abs(ours - reference_loss(x_hat, x)) < 1e-5
    in_float64 = laplacian_loss(torch.from_numpy(x_hat).double(), torch.from_numpy(x).double())
    assert abs(in_float64.item() - reference_loss(x_hat, x)) < 1e-5  # computed in float32 by design


def test_pyramid_levels_and_low_pass_left_out() -> None:
    x = torch.rand(1, 3, 64, 64)
    assert [band.shape[-1] for band in laplacian_pyramid(x)] == [64, 32, 16]
    assert laplacian_loss(x, x).item() == 0
    assert laplacian_loss(x + 0.3, x).item() < 1e-6  # a brightness shift lives in the low-pass residual


def test_mse_terms() -> None:
    x = torch.zeros(2, 3, 4, 4)
    assert reconstruction_loss(x + 0.5, x).item() == 0.25
    prediction = torch.full((2, 1, 3, 3), 0.25)
    assert adversarial_loss(prediction, real=True).item() == 0.5625
    assert adversarial_loss(prediction, real=False).item() == 0.0625
    assert reconstruction_loss(x.bfloat16(), x).dtype == torch.float32
