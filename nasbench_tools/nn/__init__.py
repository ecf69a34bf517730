"""Torch networks: NAS-Bench-201 and NAS-Bench-101 stand-alone networks and supernets.

Importing this package imports torch; ``import nasbench_tools`` does not import it.

* :class:`NB201Network`, :class:`NB201Supernet` (:mod:`.nb201`): the benchmark's skeleton with
  configurable ``C``, ``N``, input channels, image size and classes.
* :class:`NB101Network` (:mod:`.nb101`): the stand-alone NB101 network of any spec.
* :class:`MixPathNB101Supernet` (:mod:`.nb101_mixpath`): MixPath's NB101 sub-space supernet.
* :class:`ChoiceSpace` (:mod:`.choice`): how supernet choices are written down.
* :mod:`.norms`: shadow / single / no path norm, ghost batch norm.
* :mod:`.params`: parameter counts of real modules, the benchmarks' definitions.
"""

from .choice import OFF, ChoiceSpace
from .nb101 import NB101Network
from .nb101_mixpath import MixPathNB101Supernet, count_distinct_graphs
from .nb201 import NB201Network, NB201Supernet
from .norms import PATH_NORMS, GhostBatchNorm2d, ShadowBatchNorm, ghost_norm, make_path_norm
from .params import count_parameters, nb101_num_params, nb201_num_params

__all__ = [
    "OFF",
    "PATH_NORMS",
    "ChoiceSpace",
    "GhostBatchNorm2d",
    "MixPathNB101Supernet",
    "NB101Network",
    "NB201Network",
    "NB201Supernet",
    "ShadowBatchNorm",
    "count_distinct_graphs",
    "count_parameters",
    "ghost_norm",
    "make_path_norm",
    "nb101_num_params",
    "nb201_num_params",
]
