"""The mixing generator and the PatchGAN discriminator: shapes, mixing, the two architectures."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from chimeramix.config import ClassifierConfig
from chimeramix.errors import ChimeraMixError
from chimeramix.methods.chimeramix.discriminator import PatchDiscriminator
from chimeramix.methods.chimeramix.frozen_generator import load_generator
from chimeramix.methods.chimeramix.generator import MixingGenerator, ResidualBlock, resize_images
from chimeramix.methods.chimeramix.settings import GeneratorConfig, resolve_generator
from chimeramix.rundir import RunFolder


def small(architecture: str = "paper") -> MixingGenerator:
    torch.manual_seed(0)
    return MixingGenerator(blocks=4, mix_after=2, architecture=architecture, base_channels=8)  # type: ignore[arg-type]


@pytest.mark.parametrize(("size", "patches"), [(32, 1), (64, 3), (96, 5)])
def test_shapes(size: int, patches: int) -> None:
    generator = small()
    x = torch.rand(2, 3, size, size) * 2 - 1
    features = generator.encode(x)
    assert features.shape == (2, 32, size // 4, size // 4)
    mask = torch.ones(2, 1, size // 4, size // 4)
    image = generator.compose(x, x.flip(0), mask)
    assert image.shape == x.shape
    assert image.abs().max() <= 1
    assert PatchDiscriminator((8, 16, 32, 64))(image).shape == (2, 1, patches, patches)


def test_mask_of_ones_decodes_exactly_the_first_features() -> None:
    generator = small()
    x1, x2 = torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 3, 32, 32) * 2 - 1
    e1, e2 = generator.encode(x1), generator.encode(x2)
    kept = e1.clone()
    ones = torch.ones(2, 1, 8, 8)
    assert torch.equal(generator.compose_features(e1, e2, ones), generator.decode(e1))
    assert torch.equal(generator.compose_features(e1, e2, 1 - ones), generator.decode(e2))
    assert torch.equal(generator.compose(x1, x2, ones), generator.decode(e1))
    assert torch.equal(e1, kept)


def test_mask_mixes_features_per_location() -> None:
    generator = small()
    x1, x2 = torch.rand(1, 3, 32, 32) * 2 - 1, torch.rand(1, 3, 32, 32) * 2 - 1
    e1, e2 = generator.encode(x1), generator.encode(x2)
    mask = torch.zeros(1, 1, 8, 8)
    mask[..., :4] = 1
    decoded: list[torch.Tensor] = []
    handle = generator.decoder.register_forward_pre_hook(lambda module, inputs: decoded.append(inputs[0]))
    generator.compose_features(e1, e2, mask)
    handle.remove()
    assert torch.equal(decoded[0][..., :4], e1[..., :4])
    assert torch.equal(decoded[0][..., 4:], e2[..., 4:])


def test_pixel_size_masks_are_brought_to_the_feature_size() -> None:
    generator = small()
    x1, x2 = torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 3, 32, 32) * 2 - 1
    cells = (torch.rand(2, 1, 4, 4, generator=torch.Generator().manual_seed(1)) < 0.5).float()
    at_features = torch.nn.functional.interpolate(cells, size=8)
    at_pixels = torch.nn.functional.interpolate(cells, size=32)
    assert torch.equal(generator.compose(x1, x2, at_pixels), generator.compose(x1, x2, at_features))


def count_block_calls(module: torch.nn.Module, x: torch.Tensor) -> int:
    calls = []
    handles = [block.register_forward_hook(lambda *args: calls.append(1))
               for block in module.modules() if isinstance(block, ResidualBlock)]
    module(x)
    for handle in handles:
        handle.remove()
    return len(calls)


def test_released_architecture_has_no_block_after_the_mix() -> None:
    paper, released = small("paper"), small("released")
    x = torch.rand(1, 3, 32, 32)
    assert count_block_calls(paper.encoder, x) == count_block_calls(released.encoder, x) == 2
    features = torch.rand(1, 32, 8, 8)
    assert count_block_calls(paper.decoder, features) == 2
    assert count_block_calls(released.decoder, features) == 0
    assert not any(isinstance(m, ResidualBlock) for m in released.decoder.modules())


def test_released_networks_keep_pytorchs_default_initialisation() -> None:
    """The paper recipe's networks start from CycleGAN's N(0, 0.02) with zero biases; the released ones from
    PyTorch's defaults (uniform weights of std 1 / sqrt(3 fan_in), non-zero biases), as the authors' code, which
    initialises nothing."""
    torch.manual_seed(0)
    for paper, released in ((MixingGenerator(), MixingGenerator(architecture="released")),
                            (PatchDiscriminator(), PatchDiscriminator(architecture="released"))):
        first_paper, first_released = (next(m for m in net.modules() if isinstance(m, nn.Conv2d))
                                       for net in (paper, released))
        assert abs(float(first_paper.weight.detach().std()) - 0.02) < 0.002
        assert first_paper.bias is not None and not first_paper.bias.any()
        fan_in = first_released.weight[0].numel()
        assert abs(float(first_released.weight.std()) * (3 * fan_in) ** 0.5 - 1) < 0.1
        assert first_released.bias is not None and first_released.bias.abs().max() > 0


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ChimeraMixError, match="mix_after"):
        MixingGenerator(blocks=2, mix_after=3)
    with pytest.raises(ChimeraMixError, match="architecture"):
        MixingGenerator(architecture="other")  # type: ignore[arg-type]


def test_load_needs_a_finished_run(tmp_path: Path) -> None:
    with pytest.raises(ChimeraMixError, match="not a chimeramix run folder"):
        load_generator(tmp_path)
    RunFolder(tmp_path).write_config(resolve_generator(GeneratorConfig()), torch.device("cpu"))
    with pytest.raises(ChimeraMixError, match="no trained generator"):
        load_generator(tmp_path)
    RunFolder(tmp_path).write_config(ClassifierConfig(), torch.device("cpu"))
    with pytest.raises(ChimeraMixError, match="holds a classifier run, not a generator run"):
        load_generator(tmp_path)


def test_released_upsampling_is_a_bias_free_2x2_transposed_convolution() -> None:
    upsampling = [m for m in MixingGenerator(architecture="released").decoder if isinstance(m, nn.ConvTranspose2d)]
    assert [(m.kernel_size, m.stride, m.bias) for m in upsampling] == [((2, 2), (2, 2), None)] * 2
    paper = [m for m in MixingGenerator().decoder if isinstance(m, nn.ConvTranspose2d)]
    assert all(m.kernel_size == (3, 3) and m.bias is not None for m in paper)
    x = torch.rand(1, 3, 64, 64) * 2 - 1
    assert MixingGenerator(architecture="released", base_channels=8).compose(x, x, torch.ones(1, 1, 16, 16)).shape \
        == x.shape


@pytest.mark.parametrize(("architecture", "size", "side"), [("paper", 64, 3), ("released", 64, 4),
                                                            ("paper", 96, 5), ("released", 96, 6)])
def test_patch_map_sizes(architecture: str, size: int, side: int) -> None:
    discriminator = PatchDiscriminator(architecture=architecture)  # type: ignore[arg-type]
    assert discriminator(torch.rand(2, 3, size, size)).shape == (2, 1, side, side)


def test_resize_images() -> None:
    x = torch.rand(2, 3, 32, 32)
    assert resize_images(x, 64).shape == (2, 3, 64, 64)
    assert resize_images(x, 32) is x
    assert torch.allclose(resize_images(torch.ones(1, 3, 64, 64), 32), torch.ones(1, 3, 32, 32))
