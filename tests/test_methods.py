"""Augmentation methods: the registry's grammar, and that each method changes a batch the way it claims."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from skimage.segmentation import felzenszwalb

from chimeramix.errors import ChimeraMixError
from chimeramix.image_ops import crop_flip_ids, sample_crops
from chimeramix.methods import (
    COMPONENTS,
    Augmentation,
    PairMixing,
    StepParams,
    channel_stats,
    crop_flip,
    cutout,
    normalize,
    parse_method,
)
from chimeramix.methods.chimeramix.generator import MixingGenerator
from chimeramix.methods.chimeramix.masks import GridMasks, SegmentationMasks
from chimeramix.methods.chimeramix.segments import AugmentedSegments, SegmentationParams
from chimeramix.methods.image_space.cosine_loss import CosineLoss
from chimeramix.methods.image_space.erasing import RandomErasing, ReleasedRandomErasing

pytestmark = pytest.mark.usefixtures("one_thread")

NUM_CLASSES = 4
SIZE = 16


def training_set(count: int = 16, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Random uint8 images with labels 0..3, every class present several times."""
    generator = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (count, 3, SIZE, SIZE), generator=generator, dtype=torch.uint8)
    return images, torch.arange(count) % NUM_CLASSES


def augmentation(name: str, *, padding: int = 2, pair_mixing: PairMixing | None = None,
                 p: float = 0.5, images: torch.Tensor | None = None, stage_order: str = "paper") -> Augmentation:
    if images is None:
        images, labels = training_set()
    else:
        labels = torch.arange(len(images)) % NUM_CLASSES
    mean, std = channel_stats(images)
    return Augmentation(parse_method(name), images, labels, num_classes=NUM_CLASSES, crop_padding=padding,
                        cutout_size=6, mean=mean, std=std, pair_mixing=pair_mixing, pair_mixing_p=p,
                        stage_order=stage_order)  # type: ignore[arg-type]


def identity_geometry(params: StepParams) -> StepParams:
    """The same parameters without crop shift and flip (use with padding 0)."""
    for images in (params.images, *(params.partner_images or [])):
        if images is not None:
            images.crop_offsets = torch.zeros_like(images.crop_offsets)
            images.flips = torch.zeros_like(images.flips)
    return params


def plain(aug: Augmentation, positions: torch.Tensor) -> torch.Tensor:
    """The batch normalised, without any augmentation."""
    return normalize(aug.images[positions].float() / 255, aug.mean, aug.std)


# ---------------------------------------------------------------------------------------------- the grammar


@pytest.mark.parametrize(("name", "canonical"), [
    ("baseline", "baseline"),
    ("trivialaugment+chimeramix-seg", "chimeramix-seg+trivialaugment"),
    ("autoaugment+chimeramix-grid", "chimeramix-grid+autoaugment"),
    ("cosine-loss+cutout+mixup", "mixup+cutout+cosine-loss"),
    ("random-erasing+gridmix", "gridmix+random-erasing"),
])
def test_parse_method_canonical_names(name: str, canonical: str) -> None:
    assert parse_method(name).name == canonical


@pytest.mark.parametrize(("name", "reason"), [
    ("mixup+cutmix", "two mixing methods"),
    ("chimeramix-grid+mixup", "two mixing methods"),
    ("gridmix+chimeramix-seg", "two mixing methods"),
    ("autoaugment+trivialaugment", "two policy methods"),
    ("cutout+random-erasing", "two erasing methods"),
    ("baseline+cutout", "drop 'baseline'"),
    ("mixup+mixup", "twice"),
])
def test_parse_method_rejects_senseless_combinations(name: str, reason: str) -> None:
    with pytest.raises(ChimeraMixError, match=reason):
        parse_method(name)


def test_unknown_method_lists_the_known_ones() -> None:
    with pytest.raises(ChimeraMixError, match="unknown method 'hydramix'") as error:
        parse_method("hydramix")
    assert all(name in str(error.value) for name in COMPONENTS)


def test_method_properties() -> None:
    method = parse_method("chimeramix-seg+trivialaugment")
    assert method.needs_generator and method.mask_kind == "seg"
    assert parse_method("gridmix").mask_kind == "grid" and not parse_method("gridmix").needs_generator
    assert parse_method("mixup").mask_kind is None
    assert parse_method("cosine-loss").component("loss") == "cosine-loss"


# ---------------------------------------------------------------------------------------- batched pieces


def test_crop_flip_matches_padded_slices() -> None:
    images = torch.rand(5, 3, SIZE, SIZE)
    offsets, flips = sample_crops(5, 4, torch.Generator().manual_seed(1))
    out = crop_flip(images, offsets, flips, 4)
    padded = F.pad(images, (4, 4, 4, 4), mode="reflect")
    for i in range(5):
        top, left = offsets[i].tolist()
        expected = padded[i, :, top : top + SIZE, left : left + SIZE]
        assert torch.equal(out[i], expected.flip(-1) if flips[i] else expected)


def test_crop_flip_centre_without_flip_is_identity() -> None:
    images = torch.rand(2, 3, SIZE, SIZE)
    offsets = torch.full((2, 2), 4)
    assert torch.equal(crop_flip(images, offsets, torch.zeros(2, dtype=torch.bool), 4), images)


def test_cutout_zeroes_exactly_one_square() -> None:
    images = torch.ones(3, 3, SIZE, SIZE)
    centres = torch.tensor([[8, 8], [0, 0], [15, 10]])
    out = cutout(images, centres, 6)
    holes = out == 0
    assert torch.equal(holes.all(dim=1), holes.any(dim=1))  # every channel of a pixel alike
    hole = holes[:, 0]
    assert hole[0].sum() == 36 and hole[0, 5:11, 5:11].all()  # a full 6 x 6 square around the centre
    assert hole[1].sum() == 9 and hole[1, :3, :3].all()  # clipped at the top-left corner
    assert hole[2].sum() == 24 and hole[2, 12:, 7:13].all()  # clipped at the bottom (4 of 6 rows)
    assert (out[~holes] == 1).all()


def test_cutout_method_holes_are_the_only_change() -> None:
    aug = augmentation("cutout", padding=0)
    positions = torch.arange(8)
    params = identity_geometry(aug.sample(positions, torch.Generator().manual_seed(3)))
    inputs, targets = aug.apply(params)
    assert params.images.erasing is not None
    expected = cutout(plain(aug, positions), params.images.erasing, 6)
    assert torch.equal(inputs, expected)
    changed = (inputs != plain(aug, positions)).any(dim=1)
    assert all(0 < int(changed[i].sum()) <= 36 for i in range(8))
    assert torch.equal(targets, aug.labels[positions])


# ----------------------------------------------------------------------------------------- label mixing


@pytest.mark.parametrize("name", ["mixup", "cutmix"])
def test_label_mixing_soft_labels_sum_to_one(name: str) -> None:
    aug = augmentation(name, padding=0)
    positions = torch.arange(8)
    inputs, targets = aug.apply(identity_geometry(aug.sample(positions, torch.Generator().manual_seed(5))))
    assert targets.shape == (8, NUM_CLASSES)
    assert torch.allclose(targets.sum(dim=1), torch.ones(8))
    x = plain(aug, positions)
    labels = aug.labels[positions]
    lam = float(targets[0, labels[0]]) if labels[0] != labels[-1] else None
    if name == "mixup" and lam is not None:  # the batch is mixed with itself rolled by one
        assert torch.allclose(inputs, lam * x + (1 - lam) * x.roll(1, 0), atol=1e-5)
    if name == "cutmix":  # every pixel from the image or its neighbour in the batch
        own = (inputs == x).all(dim=1)
        other = (inputs == x.roll(1, 0)).all(dim=1)
        assert (own | other).all()


def test_mixup_lambda_varies_between_batches() -> None:
    aug = augmentation("mixup")
    generator = torch.Generator().manual_seed(0)
    positions = torch.tensor([0, 1, 2, 3])  # four classes: each row mixes two different labels
    lams = {round(float(aug(positions, generator)[1].max(dim=1).values[0]), 6) for _ in range(5)}
    assert len(lams) == 5


# ------------------------------------------------------------------------------------------ pair mixing


def test_gridmix_pixels_come_from_the_image_or_its_same_class_partner() -> None:
    aug = augmentation("gridmix", padding=0, p=1.0, pair_mixing=PairMixing(GridMasks(4), mask_size=SIZE))
    positions = torch.arange(16)
    params = identity_geometry(aug.sample(positions, torch.Generator().manual_seed(2)))
    assert params.partners is not None and params.draws is not None
    assert params.partners.shape == (1, 16) and torch.equal(aug.labels[params.partners[0]], aug.labels[positions])
    inputs, targets = aug.apply(params)
    x1, x2 = plain(aug, positions), plain(aug, params.partners[0])
    assert params.draws.shape == (16, 2, SIZE, SIZE) and torch.equal(params.draws.sum(1), torch.ones(16, SIZE, SIZE))
    keep = params.draws[:, :1].bool().expand_as(x1)
    assert torch.equal(inputs[keep], x1[keep]) and torch.equal(inputs[~keep], x2[~keep])
    assert torch.equal(targets, aug.labels[positions])
    cells = params.draws[:, 0, ::4, ::4]  # 4 x 4 cells of 4 px
    assert torch.equal(params.draws[:, 0], cells.repeat_interleave(4, 1).repeat_interleave(4, 2))


def test_segmix_masks_follow_the_segments_of_the_batch_image() -> None:
    images, _ = training_set()
    segments = torch.arange(SIZE).div(4, rounding_mode="floor").expand(16, SIZE, SIZE)  # four vertical bands
    pair = PairMixing(SegmentationMasks("paper"), mask_size=SIZE, segments=segments.contiguous())
    aug = augmentation("segmix", padding=0, p=1.0, pair_mixing=pair, images=images)
    params = aug.sample(torch.arange(16), torch.Generator().manual_seed(4))
    assert params.draws is not None
    bands = params.draws[:, 0].view(16, SIZE, 4, 4)
    assert torch.equal(bands, bands[..., :1].expand_as(bands))  # constant within every segment


def test_pair_mixing_replaces_whole_batches_with_probability_p() -> None:
    aug = augmentation("gridmix", pair_mixing=PairMixing(GridMasks(4), mask_size=SIZE), p=0.5)
    generator = torch.Generator().manual_seed(0)
    replaced = [aug.sample(torch.arange(4), generator).partners is not None for _ in range(400)]
    assert 0.42 < sum(replaced) / 400 < 0.58
    never = augmentation("gridmix", pair_mixing=PairMixing(GridMasks(4), mask_size=SIZE), p=0.0)
    assert never.sample(torch.arange(4), generator).partners is None


def test_chimeramix_composes_with_the_frozen_generator() -> None:
    torch.manual_seed(0)
    model = MixingGenerator(blocks=2, mix_after=1, base_channels=4).eval()
    pair = PairMixing(GridMasks(4), mask_size=8, model=model, working_size=32)
    aug = augmentation("chimeramix-grid", padding=0, p=1.0, pair_mixing=pair)
    positions = torch.arange(6)
    params = identity_geometry(aug.sample(positions, torch.Generator().manual_seed(1)))
    assert params.draws is not None and params.draws.shape == (6, 2, 8, 8) and params.partners is not None
    inputs, _ = aug.apply(params)
    x1 = aug.images[positions].float() / 255
    x2 = aug.images[params.partners[0]].float() / 255
    with torch.no_grad():
        up = [F.interpolate(x * 2 - 1, size=32, mode="bilinear", align_corners=False) for x in (x1, x2)]
        composed = model.compose(up[0], up[1], params.draws[:, :1])
        down = F.interpolate(composed, size=SIZE, mode="bilinear", align_corners=False, antialias=True)
    expected = normalize(((down + 1) / 2).clamp(0, 1), aug.mean, aug.std)
    assert not inputs.is_inference() and not inputs.requires_grad
    assert torch.allclose(inputs, expected, atol=1e-5)


class RecordingMixing(PairMixing):
    """Pixel-space mixing that records what it was given."""

    seen: list[torch.Tensor]

    def compose(self, images: torch.Tensor, draws: torch.Tensor, group: torch.Tensor | None = None) -> torch.Tensor:
        self.seen = list(images)
        return super().compose(images, draws)


def test_the_released_stage_order_mixes_the_augmented_images_and_partners() -> None:
    """Paper order: the pair is mixed before crop and flip; released order: each image and its partner get
    their own crop and flip first, and the segments follow them."""
    images, _ = training_set()
    for order in ("paper", "released"):
        mixing = RecordingMixing(GridMasks(4), mask_size=SIZE)
        aug = augmentation("gridmix", padding=2, p=1.0, pair_mixing=mixing, images=images, stage_order=order)
        params = aug.sample(torch.arange(8), torch.Generator().manual_seed(6))
        assert params.partners is not None
        aug.apply(params)
        raw = [images[params.positions].float() / 255, images[params.partners[0]].float() / 255]
        if order == "paper":
            assert params.partner_images is None
            for seen, expected in zip(mixing.seen, raw):
                assert torch.equal(seen, expected)
            continue
        assert params.partner_images is not None
        partner = params.partner_images[0]
        for seen, expected, own in zip(mixing.seen, raw, (params.images, partner)):
            torch.testing.assert_close(seen, crop_flip(expected, own.crop_offsets, own.flips, 2))
        assert not torch.equal(params.images.crop_offsets, partner.crop_offsets)


def test_released_segments_are_cropped_and_flipped_with_their_images() -> None:
    images, _ = training_set()
    segments = torch.arange(SIZE).div(4, rounding_mode="floor").expand(16, SIZE, SIZE).contiguous()
    mixing = PairMixing(SegmentationMasks("released"), mask_size=SIZE, segments=segments)
    aug = augmentation("segmix", padding=3, p=1.0, pair_mixing=mixing, images=images, stage_order="released")
    params = aug.sample(torch.arange(16), torch.Generator().manual_seed(4))
    assert params.draws is not None and params.partner_images is not None
    partner = params.partner_images[0]
    moved = crop_flip_ids(segments, partner.crop_offsets, partner.flips, 3)
    for mask, ids in zip(params.draws[:, 0], moved):  # the mask is a union of the moved segments of x2
        for segment in ids.unique():
            values = mask[ids == segment]
            assert values.min() == values.max()


def test_released_segments_of_the_augmented_partner_are_computed_as_fed() -> None:
    """With segments of the fed images (the released recipe), the partner x2 is segmented after its own
    augmentation and normalisation (here with Random Erasing: a box of noise that its segments follow), at the
    classifier's 16 px; its id range gives the mask."""
    images, _ = training_set()
    masks = SegmentationMasks("released", "nearest")
    segmenter = AugmentedSegments(SegmentationParams(scale=20, min_size=5))
    mixing = PairMixing(masks, mask_size=SIZE, segments=segmenter)
    aug = augmentation("segmix+random-erasing", padding=3, p=1.0, pair_mixing=mixing, images=images,
                       stage_order="released")
    params = aug.sample(torch.arange(16), torch.Generator().manual_seed(4))
    assert params.draws is not None and params.partners is not None and params.partner_images is not None
    fed = aug._augment_released(images[params.partners[0]].float() / 255, params.partner_images[0])
    for mask, image in zip(params.draws[:, 0], fed):
        ids = felzenszwalb(image.permute(1, 2, 0).numpy(), scale=20, sigma=0.8, min_size=5)
        count = int(ids.max()) + 1
        ranges = [(ids >= low) & (ids < high) for low in range(count) for high in range(low + 1, count + 1)]
        assert any(np.array_equal(mask.numpy().astype(bool), region) for region in ranges)
    assert segmenter.computed == 16 and segmenter.reused == 0  # erasing makes every image new: no memo


def test_released_random_erasing_draws_the_aspect_uniformly() -> None:
    """The authors' Random Erasing: aspect ratio h / w uniform in [0.3, 1 / 0.3] (mean 1.82; torchvision's
    log-uniform draw has mean 1.25), area in [0.02, 0.4] of the image, noise uniform in [0, 1), about half the
    images."""
    stage = augmentation("random-erasing", stage_order="released").erasing
    assert isinstance(stage, RandomErasing) and not stage.normalised
    erasing = stage.transform
    assert isinstance(erasing, ReleasedRandomErasing)
    torch.manual_seed(0)
    aspects, erased = [], 0
    for _ in range(1500):
        image = torch.full((3, 100, 100), -1.0)
        changed = (erasing(image) != -1).all(dim=0)
        if changed.any():
            erased += 1
            rows, columns = changed.nonzero(as_tuple=True)
            height, width = int(rows.max() - rows.min() + 1), int(columns.max() - columns.min() + 1)
            assert height * width == int(changed.sum()) and 0.02 * 1e4 - 200 <= height * width <= 0.4 * 1e4 + 200
            aspects.append(height / width)
    assert 650 < erased < 850
    assert 1.65 < float(np.mean(aspects)) < 2.0 and max(aspects) < 3.5 and min(aspects) > 0.28


# ------------------------------------------------------------------------- policies, erasing, determinism


@pytest.mark.parametrize("name", ["autoaugment", "trivialaugment", "random-erasing"])
def test_torchvision_transforms_are_seeded_by_the_generator(name: str) -> None:
    aug = augmentation(name)
    positions = torch.arange(16)
    state = torch.get_rng_state()
    first = aug(positions, torch.Generator().manual_seed(7))[0]
    assert torch.equal(torch.get_rng_state(), state)  # the global RNG is left alone
    assert torch.equal(first, aug(positions, torch.Generator().manual_seed(7))[0])
    assert not torch.equal(first, aug(positions, torch.Generator().manual_seed(8))[0])


def test_random_erasing_replaces_one_rectangle_in_about_half_the_images() -> None:
    aug = augmentation("random-erasing", padding=0)
    positions = torch.arange(16).repeat(4)
    params = identity_geometry(aug.sample(positions, torch.Generator().manual_seed(0)))
    inputs, _ = aug.apply(params)
    changed = (inputs != plain(aug, positions)).any(dim=1)
    erased = [i for i in range(len(positions)) if changed[i].any()]
    assert 16 <= len(erased) <= 48
    for i in erased:
        rows, columns = changed[i].nonzero(as_tuple=True)
        box = (rows.max() - rows.min() + 1) * (columns.max() - columns.min() + 1)
        assert int(changed[i].sum()) == int(box)  # one rectangle (noise equal to a pixel is negligible)
        assert 0.02 * SIZE * SIZE - 1 <= int(box) <= 0.4 * SIZE * SIZE + 1


@pytest.mark.parametrize("name", ["baseline", "cutout+mixup", "trivialaugment+cutmix", "gridmix+autoaugment"])
def test_a_step_is_a_pure_function_of_batch_and_generator(name: str) -> None:
    pair = PairMixing(GridMasks(4), mask_size=SIZE) if "gridmix" in name else None
    aug = augmentation(name, pair_mixing=pair, p=1.0)
    positions = torch.tensor([3, 1, 4, 1, 5, 9, 2, 6])
    a = aug(positions, torch.Generator().manual_seed(11))
    b = aug(positions, torch.Generator().manual_seed(11))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert a[0].shape == (8, 3, SIZE, SIZE) and a[0].dtype == torch.float32


def test_channel_stats_and_normalize() -> None:
    images, _ = training_set(64)
    mean, std = channel_stats(images)
    normalised = normalize(images.float() / 255, mean, std)
    assert torch.allclose(normalised.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-4)
    assert torch.allclose(normalised.std(dim=(0, 2, 3)), torch.ones(3), atol=1e-3)


# ----------------------------------------------------------------------------------------------- cosine loss


def test_cosine_loss_values() -> None:
    loss = CosineLoss(3)
    outputs = torch.tensor([[5.0, 0.0, 0.0], [0.0, 1.0, 0.0], [1.0, 1.0, 0.0]])
    assert float(loss(outputs[:1], torch.tensor([0]))) == pytest.approx(0.0)
    assert float(loss(outputs[1:2], torch.tensor([0]))) == pytest.approx(1.0)
    assert float(loss(outputs[2:], torch.tensor([0]))) == pytest.approx(1 - 2**-0.5)
    soft = torch.tensor([[0.5, 0.5, 0.0]])
    assert float(loss(outputs[2:], soft)) == pytest.approx(0.0, abs=1e-6)
    assert not list(loss.parameters())


def test_cosine_loss_with_cross_entropy_has_a_trainable_head() -> None:
    loss = CosineLoss(3, with_ce=True)
    outputs = torch.randn(4, 3, requires_grad=True)
    targets = torch.tensor([0, 1, 2, 0])
    value = loss(outputs, targets)
    value.backward()
    assert len(list(loss.parameters())) == 2
    assert outputs.grad is not None
    assert float(value.detach()) > float(CosineLoss(3)(outputs.detach(), targets))
