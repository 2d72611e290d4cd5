"""Forward + backward of the learnable scattering front end, two ways: kymatio 0.3.0's core ``scattering2d`` fed
the rebuilt wavelets (one wavelet at a time, as kymatio does), and chimeramix's own ``torch.fft`` transform
(:class:`chimeramix.methods.scattering.transform.Scattering`, batched over the wavelets of a scale). Both rebuild the 16
wavelets from their parameters on every pass and back-propagate to them and to the input.

    python benchmarks/scattering.py                      # CPU, batch 128, 32 px, J = 2, 10 timed passes
    python benchmarks/scattering.py --device cuda --repeats 50

Prints the median milliseconds per pass of each and checks that both give the same output.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from kymatio.scattering2d.core.scattering2d import scattering2d
from kymatio.scattering2d.frontend.torch_frontend import ScatteringTorch2D
from torch.utils._python_dispatch import TorchDispatchMode

from chimeramix.methods.scattering.transform import Scattering
from chimeramix.runtime import environment, select_device


def kymatio_pass(front: Scattering, size: int, device: torch.device) -> Callable[[torch.Tensor], torch.Tensor]:
    """The front end's wavelets, rebuilt per call, through kymatio's core (its padding, backend, φ)."""
    reference = ScatteringTorch2D(J=front.J, shape=(size, size), L=front.L).to(device)
    phi, _ = reference.load_filters()
    padded = (reference._M_padded, reference._N_padded)

    def run(images: torch.Tensor) -> torch.Tensor:
        psi, _ = front.filters(padded, device)
        wavelets = [{"j": j, "theta": t, "levels": [psi[j][r][t][..., None].contiguous() for r in range(max(j, 1))]}
                    for j in range(front.J) for t in range(front.L)]
        batch = images.reshape(-1, size, size).contiguous()
        out = scattering2d(batch, reference.pad, reference.unpad, reference.backend, front.J, front.L, phi,
                           wavelets, 2, "array")
        return out.reshape(images.shape[0], -1, *out.shape[-2:])

    return run


def milliseconds(function: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor, front: Scattering,
                 repeats: int) -> float:
    """Median ms of forward + backward (to the wavelet parameters and the input)."""
    times = []
    for index in range(repeats + 2):
        if images.device.type == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        out = function(images)
        out.square().mean().backward()
        if images.device.type == "cuda":
            torch.cuda.synchronize()
        if index >= 2:  # two warm-up passes
            times.append(1000 * (time.perf_counter() - started))
        front.zero_grad(set_to_none=True)
        images.grad = None
    return statistics.median(times)


class OperatorCount(TorchDispatchMode):
    """Counts the ATen operators dispatched (about the kernels a GPU would launch)."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        self.count += 1
        return func(*args, **(kwargs or {}))


def operators(function: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor, front: Scattering) -> int:
    """ATen operators of one forward + backward pass."""
    with OperatorCount() as counter:
        function(images).square().mean().backward()
    front.zero_grad(set_to_none=True)
    images.grad = None
    return counter.count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    device = select_device(args.device)
    torch.manual_seed(0)
    front = Scattering().to(device).train()
    images = torch.rand(args.batch, 3, args.size, args.size, device=device, requires_grad=True)
    kymatio = kymatio_pass(front, args.size, device)
    with torch.no_grad():
        difference = (kymatio(images) - front(images)).abs().max().item()
    own = milliseconds(front, images, front, args.repeats)
    theirs = milliseconds(kymatio, images, front, args.repeats)
    info = environment(device)
    print(f"torch.fft (chimeramix)  {own:8.1f} ms per forward+backward, {operators(front, images, front):5d} operators")
    print(f"kymatio core            {theirs:8.1f} ms per forward+backward, {operators(kymatio, images, front):5d} "
          f"operators  (time {theirs / own:.2f}x)")
    print(f"largest output difference {difference:.2e}; batch {args.batch}, {args.size} px, "
          f"{torch.get_num_threads()} threads, {info['device_name']}, torch {info['torch']}, commit {info['commit']}")


if __name__ == "__main__":
    main()
