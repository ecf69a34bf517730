"""Proxy scores of architectures: zero-cost proxies of networks at initialisation and supernet
proxies from a trained supernet, through one registry (:data:`PROXIES`, see
:mod:`nasbench_tools.proxies.base` for the compute contract)."""

from .base import (
    NEEDS,
    PROXIES,
    Proxy,
    ProxyError,
    ScoreRequest,
    compute_scores,
    get_proxy,
    groups_of,
    list_proxies,
    register_proxy,
    resolved_settings,
    settings,
)

__all__ = [
    "NEEDS",
    "PROXIES",
    "Proxy",
    "ProxyError",
    "ScoreRequest",
    "compute_scores",
    "get_proxy",
    "groups_of",
    "list_proxies",
    "register_proxy",
    "resolved_settings",
    "settings",
]
