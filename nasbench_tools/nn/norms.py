"""Normalisation layers for weight-sharing supernets.

* :class:`PathNorm` and its registry :data:`PATH_NORMS` normalise the *sum* of the active paths
  of a multi-path block (MixPath, method spec 2.1):

  - ``"shadow"``: one BatchNorm per number of active paths, ``y = BN_k(sum of k paths)``
    (MixPath's shadow batch norm);
  - ``"single"``: one BatchNorm whatever ``k`` is (MixPath's "vanilla BN" baseline);
  - ``"none"``: no normalisation of the sum; this is what MixPath's released NB101 code does
    (it builds the BNs and never applies them, method spec 2.3.1).

* :class:`GhostBatchNorm2d` computes batch statistics over ghost sub-batches (Bender et al.,
  method spec 5); :func:`ghost_norm` turns it into a norm factory for :mod:`nasbench_tools.nn.ops`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "PATH_NORMS",
    "GhostBatchNorm2d",
    "NoPathNorm",
    "PathNorm",
    "ShadowBatchNorm",
    "SingleBatchNorm",
    "ghost_norm",
    "make_path_norm",
]


class PathNorm(nn.Module):
    """Normalises the sum of ``k`` active paths; ``forward(x, k)``, ``1 <= k <= max_paths``."""

    def __init__(self, channels: int, max_paths: int):
        super().__init__()
        if max_paths < 1:
            raise ValueError(f"max_paths must be >= 1, got {max_paths}")
        self.channels, self.max_paths = channels, max_paths

    def _check(self, k: int) -> None:
        if not 1 <= k <= self.max_paths:
            raise ValueError(
                f"{type(self).__name__}: k={k} active paths, expected 1..{self.max_paths}"
            )


class NoPathNorm(PathNorm):
    """``"none"``: the sum passes through unchanged (MixPath's released NB101 code)."""

    def forward(self, x: torch.Tensor, k: int) -> torch.Tensor:
        self._check(k)
        return x


class SingleBatchNorm(PathNorm):
    """``"single"``: one BatchNorm for every number of active paths."""

    def __init__(self, channels: int, max_paths: int, affine: bool = True):
        super().__init__(channels, max_paths)
        self.bn = nn.BatchNorm2d(channels, affine=affine)

    def forward(self, x: torch.Tensor, k: int) -> torch.Tensor:
        self._check(k)
        return self.bn(x)


class ShadowBatchNorm(PathNorm):
    """``"shadow"``: ``bns[k - 1]`` normalises a sum of ``k`` paths (MixPath's SBN).

    Each BN has its own affine parameters and running statistics, selected by the *number* of
    active paths, not by which paths they are.
    """

    def __init__(self, channels: int, max_paths: int, affine: bool = True):
        super().__init__(channels, max_paths)
        self.bns = nn.ModuleList(nn.BatchNorm2d(channels, affine=affine) for _ in range(max_paths))

    def forward(self, x: torch.Tensor, k: int) -> torch.Tensor:
        self._check(k)
        return self.bns[k - 1](x)


#: ``name -> cls(channels, max_paths, affine)`` (``"none"`` ignores ``affine``).
PATH_NORMS: dict[str, Callable[..., PathNorm]] = {
    "none": lambda channels, max_paths, affine=True: NoPathNorm(channels, max_paths),
    "single": SingleBatchNorm,
    "shadow": ShadowBatchNorm,
}


def make_path_norm(kind: str, channels: int, max_paths: int, affine: bool = True) -> PathNorm:
    """Build the :data:`PATH_NORMS` entry ``kind``; raises :class:`ValueError` for an unknown one."""
    try:
        cls = PATH_NORMS[kind]
    except KeyError:
        raise ValueError(
            f"unknown path norm {kind!r}; expected one of {list(PATH_NORMS)}"
        ) from None
    return cls(channels, max_paths, affine=affine)


class GhostBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm whose training-mode statistics come from ghost batches of ``ghost_size`` examples.

    In training mode the batch is split into consecutive chunks of ``ghost_size`` (the last chunk
    may be smaller) and each chunk is normalised with its own mean and (biased) variance. The
    running statistics are updated once per call with the mean over chunks of the chunk mean and
    of the chunk's unbiased variance, using the layer's momentum (``None``: cumulative average).
    In eval mode, or when ``track_running_stats`` is off in eval mode, it is a plain BatchNorm.
    A batch no larger than ``ghost_size`` gives exactly :class:`torch.nn.BatchNorm2d`.
    """

    def __init__(self, num_features: int, ghost_size: int, **kwargs):
        super().__init__(num_features, **kwargs)
        if ghost_size < 2:
            raise ValueError(f"ghost_size must be >= 2, got {ghost_size}")
        self.ghost_size = int(ghost_size)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", ghost_size={self.ghost_size}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        if not self.training or n <= self.ghost_size:
            return super().forward(x)
        chunks = x.split(self.ghost_size, dim=0)
        outs, means, vars_ = [], [], []
        for c in chunks:
            outs.append(F.batch_norm(c, None, None, self.weight, self.bias, True, 0.0, self.eps))
            if self.track_running_stats and c.shape[0] > 1:
                with torch.no_grad():
                    means.append(c.mean(dim=(0, 2, 3)))
                    vars_.append(c.var(dim=(0, 2, 3), unbiased=True))
        if self.track_running_stats and means:
            with torch.no_grad():
                self.num_batches_tracked += 1
                m = (
                    1.0 / float(self.num_batches_tracked)
                    if self.momentum is None
                    else self.momentum
                )
                mean = torch.stack(means).mean(0).to(self.running_mean.dtype)
                var = torch.stack(vars_).mean(0).to(self.running_var.dtype)
                self.running_mean.mul_(1 - m).add_(mean, alpha=m)
                self.running_var.mul_(1 - m).add_(var, alpha=m)
        return torch.cat(outs, dim=0)


def ghost_norm(ghost_size: int) -> Callable[[int, bool, bool], nn.Module]:
    """A norm factory for :mod:`nasbench_tools.nn.ops` that builds :class:`GhostBatchNorm2d`."""

    def factory(channels: int, affine: bool = True, track_running_stats: bool = True):
        return GhostBatchNorm2d(
            channels, ghost_size, affine=affine, track_running_stats=track_running_stats
        )

    return factory
