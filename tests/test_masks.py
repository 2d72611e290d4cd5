"""Grid and segmentation masks: binary, sized, varying per sample, seeded, the released region rule; the
segmentation cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import chimeramix.methods.chimeramix.segments as segments_module
from chimeramix.config import MaskConfig
from chimeramix.errors import ChimeraMixError
from chimeramix.methods.chimeramix.masks import (
    GridMasks,
    SegmentationMasks,
    build_masks,
    grid_to_size,
    mix,
    resize_mask,
)
from chimeramix.methods.chimeramix.segments import SegmentationParams, compute_segments, segment_cache
from chimeramix.rundir import SEGMENTS_FILE


def seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def assert_binary(mask: torch.Tensor, batch: int, size: int) -> None:
    assert mask.shape == (batch, 1, size, size)
    assert mask.dtype == torch.float32
    assert set(mask.unique().tolist()) <= {0.0, 1.0}


@pytest.mark.parametrize("size", [16, 24, 32])
def test_grid_masks_are_binary_cells(size: int) -> None:
    masks = GridMasks(cells=4, p=0.5).sample(64, size, seeded())
    assert_binary(masks, 64, size)
    cell = size // 4
    blocks = masks.view(64, 1, 4, cell, 4, cell)
    assert torch.equal(blocks.amin(dim=(3, 5)), blocks.amax(dim=(3, 5)))  # constant within every cell
    assert len({tuple(m.flatten().tolist()) for m in masks}) > 50  # varies per sample
    assert 0.4 < masks.mean().item() < 0.6


def test_grid_masks_are_reproducible_and_follow_p() -> None:
    assert torch.equal(GridMasks().sample(8, 16, seeded(3)), GridMasks().sample(8, 16, seeded(3)))
    assert not torch.equal(GridMasks().sample(8, 16, seeded(3)), GridMasks().sample(8, 16, seeded(4)))
    assert GridMasks(p=0.0).sample(4, 16, seeded()).sum() == 0
    assert GridMasks(p=1.0).sample(4, 16, seeded()).min() == 1


def test_shifted_grid_moves_the_cell_borders() -> None:
    masks = torch.cat([GridMasks(shift=True).sample(16, 16, seeded(seed)) for seed in range(8)])
    assert_binary(masks, 128, 16)
    aligned = masks.view(128, 1, 4, 4, 4, 4)
    assert not torch.equal(aligned.amin(dim=(3, 5)), aligned.amax(dim=(3, 5)))


@pytest.mark.parametrize("cells", [4, 8])
def test_the_shifted_grid_pads_by_one_cell(cells: int) -> None:
    """As the authors' code: the grid is drawn at size + pad with pad = size // cells (not size // 4) and
    cropped at an offset in {0, ..., pad - 1}: every mask is one of those pad x pad crops."""
    ids = torch.arange(cells * cells, dtype=torch.float32).view(1, 1, cells, cells)
    pad = 16 // cells
    big = torch.nn.functional.interpolate(ids, size=(16 + pad, 16 + pad), mode="nearest")
    crops = {tuple(big[..., t : t + 16, u : u + 16].flatten().tolist()) for t in range(pad) for u in range(pad)}
    drawn = {tuple(grid_to_size(ids, 16, True, seeded(seed)).flatten().tolist()) for seed in range(300)}
    assert drawn == crops


def test_grid_parameters_are_checked() -> None:
    with pytest.raises(ChimeraMixError, match="cells"):
        GridMasks(cells=0)


def test_resize_mask_takes_the_majority() -> None:
    mask = torch.tensor([[1.0, 1.0, 1.0, 0.0],
                         [1.0, 0.0, 0.0, 0.0],
                         [1.0, 0.0, 0.0, 0.0],
                         [1.0, 0.0, 0.0, 0.0]]).view(1, 1, 4, 4)  # 2 x 2 blocks with 3, 1, 2, 0 ones
    shrunk = resize_mask(mask, 2)
    assert shrunk.flatten().tolist() == [1.0, 0.0, 1.0, 0.0]  # a tie goes to the region
    assert torch.equal(resize_mask(shrunk, 4), shrunk.repeat_interleave(2, 2).repeat_interleave(2, 3))


def test_mix_in_pixel_space() -> None:
    x1, x2 = torch.zeros(2, 3, 32, 32), torch.ones(2, 3, 32, 32)
    masks = GridMasks().sample(2, 8, seeded())
    mixed = mix(x1, x2, masks)
    assert torch.equal(mixed[:, :1], 1 - resize_mask(masks, 32))


def stripes(batch: int = 4, size: int = 16, count: int = 4) -> torch.Tensor:
    """Segment maps made of ``count`` vertical stripes of ids 0..count-1."""
    ids = torch.arange(size) * count // size
    return ids.expand(batch, size, size).clone()


def pair(segments: torch.Tensor) -> list[torch.Tensor]:
    """The same maps for x1 and x2."""
    return [segments, segments]


def test_paper_region_choice_takes_whole_segments_of_x1() -> None:
    segments = stripes(256)
    masks = SegmentationMasks("paper").sample(256, 16, seeded(), [segments, torch.zeros_like(segments)])
    assert_binary(masks, 256, 16)
    per_segment = masks[:, 0].view(256, 16, 4, 4)
    assert torch.equal(per_segment.amin(dim=(1, 3)), per_segment.amax(dim=(1, 3)))
    chosen = per_segment[:, 0, :, 0]
    assert 0.4 < chosen.mean().item() < 0.6
    assert len({tuple(row.tolist()) for row in chosen}) == 16  # all 2^4 subsets occur


def test_released_region_choice_takes_a_contiguous_id_range_of_x2() -> None:
    x2 = stripes(256)
    masks = SegmentationMasks("released").sample(256, 16, seeded(), [torch.zeros_like(x2), x2])
    chosen = masks[:, 0, 0, ::4]  # one value per stripe of x2, in id order
    for row in chosen.tolist():
        ones = [i for i, value in enumerate(row) if value]
        assert ones and ones == list(range(ones[0], ones[-1] + 1))
        assert not row[-1]  # the last id is never chosen


@pytest.mark.parametrize(("count", "expected"), [(1, [1.0]), (2, [1.0, 0.0]), (3, [0.5, 0.75, 0.0])])
def test_released_selection_probabilities_per_segment(count: int, expected: list[float]) -> None:
    """The released rule: l uniform in {0..max(1, n-1)-1}, u uniform in {l+1..max(l+2, n)-1}, ids in [l, u).
    n = 2: l = 0, u = 1, so segment 0 always, 1 never; n = 3: [0, 1), [0, 2) or [1, 2) with probabilities
    1/4, 1/4, 1/2."""
    draws = 20_000
    x2 = stripes(draws, size=12, count=count)
    masks = SegmentationMasks("released").sample(draws, 12, seeded(1), [x2, x2])
    frequency = masks[:, 0, 0, :: 12 // count].mean(dim=0).tolist()
    assert frequency == pytest.approx(expected, abs=0.015)  # 4 standard errors at 20,000 draws


def test_released_masks_are_never_all_x1_with_two_segments_or_more() -> None:
    rng = torch.Generator().manual_seed(2)
    x2 = torch.randint(0, 6, (512, 16, 16), generator=rng)
    x2[:, 0, 0] = 0
    x2[:, -1, -1] = x2.flatten(1).amax(dim=1)  # ids 0..n-1 all present: n >= 2 almost surely
    x2 = torch.unique(x2, return_inverse=True)[1]  # ids of every map made contiguous
    masks = SegmentationMasks("released").sample(512, 16, seeded(3), [x2, x2])
    several = x2.flatten(1).amax(dim=1) >= 1
    assert several.all()
    assert (masks.flatten(1).amin(dim=1) == 0).all()  # some feature of x2 in every mask
    single = SegmentationMasks("released").sample(4, 16, seeded(), pair(torch.zeros(4, 16, 16, dtype=torch.long)))
    assert single.min() == 1  # one segment: all ones, as the released code


def test_segmentation_masks_are_reproducible_and_downsampled_by_majority() -> None:
    segments = torch.zeros(1, 32, 32, dtype=torch.long)
    segments[:, :, 20:28] = 1  # a stripe of 8 px over two cells of 8 px at size 4, half of each
    segments[:, :, 28:] = 2
    maps = pair(segments.expand(64, 32, 32))
    masks = SegmentationMasks("released")
    first = masks.sample(64, 4, seeded(5), maps)
    assert torch.equal(first, masks.sample(64, 4, seeded(5), maps))
    only_stripe = first[:, 0, 0].tolist().index([0.0, 0.0, 1.0, 1.0])  # the id range [1, 2) was drawn
    assert first[only_stripe, 0, :, 2:].min() == 1  # cells half covered: the tie goes to the region
    nearest = SegmentationMasks("released", "nearest").sample(64, 4, seeded(5), maps)
    assert nearest[only_stripe, 0, 0].tolist() == [0.0, 0.0, 0.0, 1.0]  # pixels 0, 8, 16, 24: only 24 in the stripe
    with pytest.raises(ChimeraMixError, match="region choice"):
        SegmentationMasks("any")  # type: ignore[arg-type]
    with pytest.raises(ChimeraMixError, match="downsampling"):
        SegmentationMasks("paper", "any")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="segment maps of x2"):
        masks.sample(64, 4, seeded())


def test_one_factory_builds_both_kinds() -> None:
    grid = build_masks(MaskConfig(kind="grid", grid_cells=2, grid_shift=True))
    assert isinstance(grid, GridMasks) and grid.cells == 2 and grid.shift
    seg = build_masks(MaskConfig(kind="seg", region_choice="released"))
    assert isinstance(seg, SegmentationMasks) and seg.region_choice == "released"
    for masks in (grid, seg):  # one signature
        assert_binary(masks.sample(3, 8, seeded(), pair(stripes(3, 8))), 3, 8)


def test_compute_segments_of_real_images(shared_data: Path) -> None:
    from chimeramix.data import load_split

    images = load_split("cifar10", "train", shared_data).images[:16]
    segments = compute_segments(images, scale=60, min_size=60, sigma=0.8)
    assert segments.shape == (16, 32, 32) and segments.dtype == np.int32
    counts = segments.reshape(16, -1).max(axis=1) + 1
    assert counts.max() > 1
    for image_segments, count in zip(segments, counts):
        assert set(np.unique(image_segments)) == set(range(count))
    masks = SegmentationMasks().sample(16, 16, seeded(), pair(torch.from_numpy(segments)))
    assert_binary(masks, 16, 16)


def test_compute_segments_needs_uint8_images() -> None:
    with pytest.raises(ChimeraMixError, match="uint8"):
        compute_segments(np.zeros((2, 8, 8, 3), dtype=np.float32), 60, 60, 0.8)


def test_segment_cache_is_computed_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(6, 16, 16, 3), dtype=np.uint8)
    params = SegmentationParams(scale=20, min_size=5, sigma=0.5)
    path = tmp_path / SEGMENTS_FILE
    segments = segment_cache(path, images, params)
    assert segments.shape == (6, 2, 16, 16)
    assert np.array_equal(segments[:, 0], compute_segments(images, 20, 5, 0.5))
    assert np.array_equal(segments[:, 1], compute_segments(images[:, :, ::-1].copy(), 20, 5, 0.5))
    assert path.is_file()

    def fail(*args: object, **kwargs: object) -> np.ndarray:
        raise AssertionError("segments were recomputed")

    monkeypatch.setattr(segments_module, "compute_segments", fail)
    assert np.array_equal(segment_cache(path, images, params), segments)
    monkeypatch.undo()
    other = segment_cache(path, images, SegmentationParams(scale=100, min_size=5, sigma=0.5))
    assert other.shape == segments.shape  # other parameters: recomputed, not the stale cache
