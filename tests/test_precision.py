"""The precision decision (bf16 where the device computes it natively, fp32 elsewhere), how a run records it, and
the CPU bf16 fast paths that must not change what a network computes: reflection padding and dropout masks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from chimeramix.cli import main
from chimeramix.config import ClassifierConfig, DataConfig
from chimeramix.errors import ChimeraMixError
from chimeramix.methods.chimeramix.generator import MixingGenerator, ReflectionPad
from chimeramix.models.wide_resnet import Dropout
from chimeramix.runtime import adam_options, choose_precision, run_precision, sgd_options
from chimeramix.train import trainers
from chimeramix.train.stacking import StackedModules

CPU, CUDA = torch.device("cpu"), torch.device("cuda")


@pytest.mark.parametrize("native", [True, False])
def test_bf16_where_the_device_computes_it_natively(monkeypatch: pytest.MonkeyPatch, native: bool) -> None:
    monkeypatch.setattr("chimeramix.runtime.cpu_has_native_bf16", lambda: native)
    assert choose_precision(CPU, amp=True) == ("bf16" if native else "fp32")
    assert choose_precision(CPU, amp=False) == "fp32"  # --no-amp switches it off on a CPU too
    assert choose_precision(CPU, amp=True, packed=True) == "fp32"  # CPU autocast does not reach vmapped convs
    assert choose_precision(CUDA, amp=True) == choose_precision(CUDA, amp=True, packed=True) == "bf16"
    assert choose_precision(CUDA, amp=False) == "fp32"


def test_a_recorded_precision_is_used_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("chimeramix.runtime.cpu_has_native_bf16", lambda: False)
    assert run_precision(ClassifierConfig(precision="bf16"), CPU) == "bf16"  # emulated, but what the config says
    assert run_precision(ClassifierConfig(), CPU) == "fp32"
    with pytest.raises(ChimeraMixError, match="precision 'fp16'"):
        run_precision(ClassifierConfig(precision="fp16"), CPU)
    with pytest.raises(ChimeraMixError, match="--pack 1"):
        run_precision(ClassifierConfig(precision="bf16"), CPU, packed=True)


def test_a_run_records_its_precision_and_says_it(tiny_data_root: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    args = ["classifier", "train", "--k", "2", "--data-root", str(tiny_data_root), "--preset", "quick", "--epochs", "1",
            "--repetition", "2", "--architecture", "wrn-10-1", "--device", "cpu", "--no-progress"]
    expected = choose_precision(CPU, amp=True)
    for extra, precision in (([], expected), (["--no-amp"], "fp32")):
        run_dir = tmp_path / (extra[0] if extra else "default")
        assert main([*args, *extra, "--out", str(run_dir)]) == 0
        assert f"parameters, {precision}," in capsys.readouterr().out
        for name in ("config.json", "result.json"):
            assert json.loads((run_dir / name).read_text())["config"]["precision"] == precision, name


def test_a_cpu_pack_computes_in_fp32(tiny_data_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("chimeramix.runtime.cpu_has_native_bf16", lambda: True)
    configs = [ClassifierConfig(data=DataConfig("cifar10", 2, seed, str(tiny_data_root)), architecture="wrn-10-1",
                                epochs=1, repetition=2, batch_size=8, device="cpu") for seed in (0, 1)]
    results = trainers.train_pack(configs, [tmp_path / "a", tmp_path / "b"], progress=False)
    assert [result["config"]["precision"] for result in results] == ["fp32", "fp32"]


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)])
def test_autocast_of_vmapped_convolutions(device: str) -> None:
    """What the packs' precision rests on (``choose_precision``): CUDA autocast reaches the convolutions and
    transposed convolutions of vmapped modules (packs compute in bf16), CPU autocast does not (CPU packs compute
    in fp32). Autocast reaches a lone module's convolutions on both; a change in PyTorch shows up here."""
    torch.manual_seed(0)
    modules = [nn.Sequential(nn.Conv2d(3, 4, 3), nn.ConvTranspose2d(4, 3, 2, stride=2)).to(device) for _ in range(2)]
    stacked = StackedModules(modules)
    x = torch.randn(2, 5, 3, 8, 8, device=device)
    with torch.autocast(device, dtype=torch.bfloat16):
        packed, alone = stacked(x), modules[0](x[0])
    assert alone.dtype == torch.bfloat16
    assert packed.dtype == (torch.bfloat16 if device == "cuda" else torch.float32)
    torch.testing.assert_close(packed[0].float(), alone.float(), rtol=0.02, atol=0.02)


def test_reflection_padding_keeps_bf16_and_the_values() -> None:
    """Under CPU autocast, stock reflection padding returns float32; ours keeps bf16, and the convolution after
    it computes exactly what it computed before (the padding only copies values)."""
    x = torch.randn(2, 4, 9, 9).bfloat16()
    conv = nn.Conv2d(4, 5, 3)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        stock, ours = nn.ReflectionPad2d(1)(x), ReflectionPad(1)(x)
        assert stock.dtype == torch.float32 and ours.dtype == torch.bfloat16
        torch.testing.assert_close(ours.float(), stock, rtol=0, atol=0)
        torch.testing.assert_close(conv(ours), conv(stock), rtol=0, atol=0)
    assert torch.equal(ReflectionPad(2)(x.float()), F.pad(x.float(), (2, 2, 2, 2), mode="reflect"))
    generator = MixingGenerator(blocks=2, mix_after=1, base_channels=4)
    assert sum(isinstance(module, ReflectionPad) for module in generator.modules()) == 6


def test_cpu_dropout_keeps_units_with_probability_1_minus_p_and_scales_them() -> None:
    dropout = Dropout(0.3)
    x = torch.ones(200_000, requires_grad=True)
    torch.manual_seed(0)
    y = dropout(x)
    kept = y != 0
    assert abs(kept.float().mean().item() - 0.7) < 0.005  # 4.5 standard deviations of the mean
    torch.testing.assert_close(y[kept], torch.full_like(y[kept], 1 / 0.7))
    y.sum().backward()
    assert x.grad is not None and torch.equal(x.grad, y.detach())  # the gradient is the same mask and scale
    torch.manual_seed(0)
    assert torch.equal(dropout(x), y)  # seeded
    dropout.eval()
    assert torch.equal(dropout(x), x)
    assert torch.equal(Dropout(1.0)(x), torch.zeros_like(x))
    assert Dropout(0.3)(x.detach().bfloat16()).dtype == torch.bfloat16


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_cpu_optimisers_update_channels_last_parameters_elementwise(optimizer: str) -> None:
    """A channels-last parameter with a gradient in the default layout (as autograd may give it) gets the same
    update as the plain parameter. PyTorch's fused CPU kernels do not (they pair elements by memory order), which
    is why a CPU run's optimisers are not fused (runtime.sgd_options / adam_options)."""
    torch.manual_seed(0)
    start, gradients = torch.randn(8, 4, 3, 3), [torch.randn(8, 4, 3, 3) for _ in range(5)]

    def trained(channels_last: bool, options: dict[str, Any]) -> torch.Tensor:
        layout = torch.channels_last if channels_last else torch.contiguous_format
        weight = start.clone().contiguous(memory_format=layout).requires_grad_()
        chosen = (torch.optim.SGD([weight], lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-3, **options)
                  if optimizer == "sgd" else torch.optim.Adam([weight], lr=0.01, betas=(0.5, 0.999), **options))
        for gradient in gradients:
            weight.grad = gradient.clone()
            chosen.step()
        return weight.detach().contiguous()

    options = sgd_options(CPU, fast=False) if optimizer == "sgd" else adam_options(CPU, fast=False)
    torch.testing.assert_close(trained(True, options), trained(False, {}), rtol=0, atol=1e-6)
    assert not torch.allclose(trained(True, {"fused": True}), trained(False, {}))  # the reason (torch 2.11-2.14)
