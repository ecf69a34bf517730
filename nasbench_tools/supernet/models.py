"""Registry of trainable supernets (:data:`SUPERNETS`): ``name -> builder``.

A builder takes the data shape (input channels, image size, classes), the path-norm kind
(``"shadow"``, ``"single"`` or ``"none"``), an optional ghost-BN size and space-specific options,
and returns a supernet module with a ``space`` (:class:`~nasbench_tools.nn.choice.ChoiceSpace`),
``forward(x, choice, example_mask=None)`` and ``arch_key(choice)`` (the benchmark identity of a
choice, or ``None``).

``nb201``
    :class:`~nasbench_tools.nn.nb201.NB201Supernet`; options ``C`` (16), ``N`` (5), ``affine``
    (False). The path norm normalises each edge's summed ops (``"none"`` keeps the benchmark's
    cell).
``nb101-mixpath``
    :class:`~nasbench_tools.nn.nb101_mixpath.MixPathNB101Supernet`; options ``num_nodes`` (4),
    ``stem_channels`` (128), ``num_stacks`` (3), ``cells_per_stack`` (3). Ghost BN is not
    supported there.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from ..errors import TrainConfigError
from ..nn.nb101_mixpath import MixPathNB101Supernet
from ..nn.nb201 import NB201Supernet
from ..nn.norms import PATH_NORMS, ghost_norm
from ..nn.ops import batch_norm
from ..registry import Registry

__all__ = ["SUPERNETS", "build_supernet", "list_supernets"]

#: name -> builder(in_channels, image_size, num_classes, bn, ghost_batch_size, **options); an
#: unknown name raises :class:`~nasbench_tools.errors.TrainConfigError` listing the known ones.
SUPERNETS: Registry[Callable[..., nn.Module]] = Registry("supernet", error=TrainConfigError)


@SUPERNETS.register("nb201")
def _nb201(in_channels, image_size, num_classes, bn, ghost_batch_size, C=16, N=5, affine=False):
    norm = batch_norm if ghost_batch_size is None else ghost_norm(ghost_batch_size)
    return NB201Supernet(
        C=C, N=N, num_classes=num_classes, in_channels=in_channels, image_size=image_size,
        affine=affine, norm=norm, edge_norm=bn,
    )  # fmt: skip


@SUPERNETS.register("nb101-mixpath")
def _mixpath(
    in_channels,
    image_size,
    num_classes,
    bn,
    ghost_batch_size,
    num_nodes=4,
    stem_channels=128,
    num_stacks=3,
    cells_per_stack=3,
):
    if ghost_batch_size is not None:
        raise TrainConfigError("ghost batch norm is only available for the nb201 supernet")
    return MixPathNB101Supernet(
        num_nodes=num_nodes, bn=bn, stem_channels=stem_channels, num_stacks=num_stacks,
        cells_per_stack=cells_per_stack, num_classes=num_classes, in_channels=in_channels,
        image_size=image_size,
    )  # fmt: skip


def list_supernets() -> list[str]:
    return SUPERNETS.names()


def build_supernet(
    name: str,
    *,
    in_channels: int,
    image_size: int,
    num_classes: int,
    bn: str = "none",
    ghost_batch_size: int | None = None,
    **options,
) -> nn.Module:
    """Build the registered supernet ``name``; unknown names or options raise
    :class:`~nasbench_tools.errors.TrainConfigError`."""
    builder = SUPERNETS.get(name)
    if bn not in PATH_NORMS:
        raise TrainConfigError(f"unknown bn {bn!r}; expected one of {sorted(PATH_NORMS)}")
    try:
        return builder(in_channels, image_size, num_classes, bn, ghost_batch_size, **options)
    except TypeError as exc:
        raise TrainConfigError(f"supernet {name!r}: {exc}") from None
