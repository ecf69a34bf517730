"""Zero-cost proxies of stand-alone networks at initialisation, all served by one fused function.

Every proxy here is in the group ``"init"``: for each architecture the network is built once
(``Space.build_network``, PyTorch's default initialisation, seeded by :func:`arch_seed` from the
request's seed and the architecture's key, so a score does not depend on which other proxies,
architectures, shards or order were asked for) and every requested proxy is read from it.

=============  =====  =======================================================================
proxy          needs  natural value (method_spec.md section 9; defaults are the spec's)
=============  =====  =======================================================================
grad_norm      data   sum over conv/linear layers of ||dL/dW||_2 (cross-entropy, batch 64)
snip           data   sum |W * dL/dW|
plain          data   sum W * dL/dW
fisher         data   per channel 0.5 * mean_n(sum_spatial a * dL/da)^2, broadcast to the
                      channel's weights and summed (zero-cost-nas's reshape_elements)
grasp          data   sum -W * (H dL/dW): own second forward with a Hessian-gradient product
jacob_cov      data   -sum_i [log(l_i + 1e-5) + 1/(l_i + 1e-5)], l_i the eigenvalues of the
                      correlation of the per-image input gradients of the summed outputs
epe_nas        data   NASLib's EPE-NAS on the same input gradients, per class
naswot         data   log|det K|, K the ReLU-code kernel over a batch of 128 (Mellor et al.)
synflow        none   sum |theta * dR/dtheta| on a BN-free double copy with |theta|, R the summed
                      output of one all-ones image
l2_norm        none   sum ||W||_2 over conv/linear layers
params         none   parameters in millions (the benchmarks' "MB")
flops          none   MFLOPs of one image, NATS-Bench's convention (conv/linear multiply-adds)
flops_naslib   none   MFLOPs under NASLib / NAS-Bench-Suite-Zero's convention (pooling, BN, ReLU)
=============  =====  =======================================================================

The fused pass (:func:`nasbench_tools.proxies._measures.data_pass`): one forward of the batch in
``train()`` mode, the cross-entropy backward (weight gradients for grad_norm, snip, plain and
GraSP's first gradient; output gradients for fisher), the input gradient of the summed outputs
from the same graph (jacob_cov, epe_nas), and NASWOT's ReLU codes from the same forward when
its batch size equals the main one (by default it is 128 against 64, so NASWOT runs one more
forward without gradients). synflow and GraSP's second pass run on their own.

The batch: one batch drawn once from ``request.data`` with the request's seed (a permutation;
the first ``batch_size`` images for the gradient proxies, the first ``naswot_batch_size`` for
NASWOT), shared by every architecture. zero-cost-nas draws a new shuffled batch for each
architecture; one shared batch removes that noise from the ranking.

Options (``ScoreRequest.options``): ``batch_size`` (64), ``naswot_batch_size`` (128),
``image_size`` (32; the data's when given), and the builder's network options (``C``, ``N``,
``num_classes``, ``in_channels``, ...; the data's classes and channels when given).
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import NasbenchToolsError
from . import _measures as M
from .base import NETWORK_OPTIONS, ProxyError, ScoreRequest, register_proxy, settings

__all__ = ["DATA_PROXIES", "FREE_PROXIES", "arch_seed", "draw_batch", "score_init"]

GROUP = "init"
DEFAULTS = {"batch_size": 64, "naswot_batch_size": 128, "image_size": 32}

#: Proxies that read a data batch; the rest need nothing but the network.
DATA_PROXIES = (
    "grad_norm", "snip", "plain", "fisher", "grasp", "jacob_cov", "epe_nas", "naswot",
)  # fmt: skip
FREE_PROXIES = ("synflow", "l2_norm", "params", "flops", "flops_naslib")


def arch_seed(seed: int, key) -> int:
    """The initialisation seed of one architecture: a function of the request's seed and the
    key only (an int index or a hex hash)."""
    k = int(key, 16) if isinstance(key, str) else int(key)
    return int(np.random.SeedSequence([int(seed), k]).generate_state(1, np.uint64)[0] >> 1)


def draw_batch(data, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``n`` images (normalised) and labels of a permutation of ``data`` seeded by
    ``seed``. Raises :class:`ProxyError` if ``data`` holds fewer than ``n`` images."""
    if n > len(data):
        raise ProxyError(
            f"a batch of {n} images was asked of {data.name}/{data.split}, which holds {len(data)}"
        )
    idx = np.random.default_rng(seed).permutation(len(data))[:n]
    idx_t = torch.from_numpy(np.sort(idx))
    return data.normalise(data.images[idx_t]), data.labels[idx_t]


def _network_options(request: ScoreRequest, cfg: dict) -> dict:
    opts = {k: v for k, v in cfg.items() if k in NETWORK_OPTIONS}
    if request.data is not None:
        for k, v in (("num_classes", request.data.num_classes),
                     ("in_channels", request.data.channels)):  # fmt: skip
            if opts.setdefault(k, v) != v:
                raise ProxyError(
                    f"option {k}={opts[k]} contradicts the data {request.data.name} ({k}={v})"
                )
    return opts


def _image_shape(request: ScoreRequest, cfg: dict, opts: dict) -> tuple[int, int, int]:
    if request.data is not None:
        return (request.data.channels, request.data.image_size, request.data.image_size)
    size = int(cfg["image_size"])
    return (int(opts.get("in_channels", 3)), size, size)


def resolve(request: ScoreRequest) -> dict:
    """The settings a request runs with: defaults, options, and the data's image shape and
    classes where data is given (recorded in the table's metadata)."""
    cfg = settings(request)
    opts = _network_options(request, cfg)
    shape = _image_shape(request, cfg, opts)
    cfg.update(opts)
    cfg["image_size"] = shape[-1]
    cfg["in_channels"] = shape[0]
    return cfg


def score_init(request: ScoreRequest) -> dict[str, np.ndarray]:
    """The group function of every zero-cost proxy (see the module docstring)."""
    names = set(request.names)
    cfg = settings(request)
    opts = _network_options(request, cfg)
    shape = _image_shape(request, cfg, opts)
    batches = {}
    if names & set(DATA_PROXIES):
        bs, nb = int(cfg["batch_size"]), int(cfg["naswot_batch_size"])
        for n in (bs, nb):
            if n < 2:
                raise ProxyError(f"batch sizes must be >= 2, got {n}")
        batches["main"] = draw_batch(request.data, bs, request.seed)
        if "naswot" in names:
            batches["naswot"] = draw_batch(request.data, nb, request.seed)
    out = {n: np.full(len(request.keys), np.nan) for n in request.names}
    device = torch.device(request.device)
    for i, key in enumerate(request.keys):
        arch = request.space.arch(key.item() if isinstance(key, np.generic) else key)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(arch_seed(request.seed, key))
            net = request.space.build_network(arch, **opts).to(device)
        for name, value in _one_network(net, names, batches, shape, request, device).items():
            out[name][i] = value
    return out


def _one_network(net, names: set[str], batches: dict, shape, request, device) -> dict:
    res: dict[str, float] = {}
    same_batch = "naswot" in names and len(batches["naswot"][1]) == len(batches["main"][1])
    want_w = bool(names & {"grad_norm", "snip", "plain", "grasp"})
    want_j = bool(names & {"jacob_cov", "epe_nas"})
    if want_w or want_j or "fisher" in names or same_batch:
        x, y = (t.to(device) for t in batches["main"])
        p = M.data_pass(
            net, x, y, weight_grads=want_w, fisher="fisher" in names, input_grad=want_j,
            naswot=same_batch,
        )  # fmt: skip
        if want_w:
            res.update(M.weight_grad_scores(net, p.weight_grads, names))
        if "fisher" in names:
            res["fisher"] = p.fisher
        if "jacob_cov" in names:
            res["jacob_cov"] = M.jacob_cov_score(p.input_grad)
        if "epe_nas" in names:
            classes = request.data.num_classes
            res["epe_nas"] = M.epe_nas_score(p.input_grad, y.cpu().numpy(), classes)
        if same_batch:
            res["naswot"] = M.naswot_score(p.naswot_kernel)
        if "grasp" in names:
            res["grasp"] = M.grasp(net, x, y, p.weight_grads)
    if "naswot" in names and not same_batch:
        xn = batches["naswot"][0].to(device)
        res["naswot"] = M.naswot_score(M.naswot_kernel(net, xn))
    if "l2_norm" in names:
        res["l2_norm"] = M.l2_norm(net)
    if "params" in names:
        res["params"] = sum(p.numel() for p in net.parameters() if p.requires_grad) / 1e6
    from ..nn.flops import count_flops, counting_flops

    # NATS FLOPs count conv and linear layers by their shapes only, so synflow's one-image
    # forward (BN stripped, double) counts them too when both are asked for
    by_synflow = "synflow" in names and "flops" in names
    for name, conv in (("flops", "nats"), ("flops_naslib", "naslib")):
        if name in names and not (by_synflow and name == "flops"):
            res[name] = count_flops(net, torch.zeros((1, *shape), device=device), conv)
    if "synflow" in names:  # last: it strips BN from the network and makes it double
        with counting_flops(net, "nats") as counter:
            res["synflow"] = M.synflow(net, shape, inplace=True)
        if by_synflow:
            res["flops"] = counter.mflops(1)
    return res


_DESCRIPTIONS = {
    "grad_norm": ("data", "sum of per-layer L2 norms of the loss gradient (Abdelfattah 2021)", "norm"),
    "snip": ("data", "sum |W * dL/dW| (SNIP, Lee 2019; Abdelfattah 2021)", "saliency"),
    "plain": ("data", "sum W * dL/dW (Abdelfattah 2021)", "saliency"),
    "fisher": ("data", "channel Fisher information, fan-in weighted (Turner 2020)", "saliency"),
    "grasp": ("data", "sum -W * Hg (GraSP, Wang 2020; Abdelfattah 2021)", "saliency"),
    "jacob_cov": ("data", "input-Jacobian correlation score (Mellor 2021 v1)", "score"),
    "epe_nas": ("data", "per-class input-Jacobian correlations (Lopes 2021, NASLib)", "score"),
    "naswot": ("data", "log|det K| of the ReLU-code kernel (NASWOT, Mellor 2021)", "log"),
    "synflow": ("nothing", "synaptic flow on |theta|, no BN, double (Tanaka 2020)", "saliency"),
    "l2_norm": ("nothing", "sum of per-layer L2 norms of the weights (NASLib)", "norm"),
    "params": ("nothing", "trainable parameters of the network", "M"),
    "flops": ("nothing", "FLOPs of one image, NATS-Bench convention", "MFLOPs"),
    "flops_naslib": ("nothing", "FLOPs of one image, NASLib convention", "MFLOPs"),
}  # fmt: skip

for _name, (_needs, _desc, _unit) in _DESCRIPTIONS.items():
    _defaults = {k: v for k, v in DEFAULTS.items() if _needs == "data" or k == "image_size"}
    register_proxy(
        _name,
        needs=_needs,
        deterministic=True,
        unit=_unit,
        description=_desc,
        group=GROUP,
        defaults=_defaults,
        chunk=1,
        resolve=resolve,
    )(score_init)

if set(_DESCRIPTIONS) != set(DATA_PROXIES) | set(FREE_PROXIES):  # pragma: no cover
    raise NasbenchToolsError("zero_cost: the proxy tables disagree")
