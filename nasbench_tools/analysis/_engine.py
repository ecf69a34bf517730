"""Exact rank statistics of paired vectors under integer case weights, in O(n log n) (private).

One :class:`PairStats` per ``(x, y)`` pair sorts once. Afterwards every statistic is a few
vectorised passes, either for unit weights (the point estimate) or for a matrix of bootstrap counts
(``B`` resamples at once). A resample with replacement *is* the original sample with integer
weights ``w_i`` (how often item ``i`` was drawn), so the orderings never change and only the weights
do; ties between copies and between items become weighted counts.

Kendall counts come from a wavelet-style pass over the bits of the dense y-ranks taken in
``(x, y)`` order. At each bit, within each run of equal higher bits, an element whose bit is set
gains the weight of the earlier elements whose bit is clear (their y is smaller). Summed over the
bits this gives, for every element, the weight of the earlier elements with a smaller y, without a
sort inside the loop: ``ceil(log2(#distinct y))`` passes of O(n) each.

Conventions: ``x`` is the ground truth and ``y`` the score; higher is better for both. Weight
matrices are *item-major*, shape ``(n, B)``. Per-element arrays are kept in *P-order* (items
sorted by ``(x, y)`` ascending); *Q-order* is by ``(y, x)`` ascending.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

__all__ = ["STATISTICS", "PairStats", "dense_rank", "harmonic_table"]

#: Names accepted in ``PairStats.compute(want=...)``.
STATISTICS = frozenset(
    {"tau_counts", "spearman", "pearson", "weighted_tau", "p_at_top_k", "p_at_bottom_k", "br_at_k"}
)
_TOPK = frozenset({"p_at_top_k", "p_at_bottom_k", "br_at_k"})


def dense_rank(v: np.ndarray) -> tuple[np.ndarray, int]:
    """Dense 0-based ranks of ``v`` (equal values share a rank) and the number of distinct values."""
    order = np.argsort(v)
    s = v[order]
    step = np.zeros(s.size, dtype=np.int64)
    np.not_equal(s[1:], s[:-1], out=step[1:], casting="unsafe")
    d = np.cumsum(step)
    ranks = np.empty(s.size, dtype=np.int64)
    ranks[order] = d
    return ranks, (int(d[-1]) + 1 if s.size else 0)


def harmonic_table(n: int) -> np.ndarray:
    """``H[k] = sum_{r=0}^{k-1} 1/(r+1)`` for ``k = 0..n`` (``H[0] = 0``)."""
    h = np.zeros(n + 1)
    np.cumsum(1.0 / np.arange(1, n + 1), out=h[1:])
    return h


class _Runs:
    """Runs of equal keys in an ordering: start of each run and, per element, its run."""

    __slots__ = ("ids", "start_of", "starts")

    def __init__(self, key: np.ndarray) -> None:
        change = np.ones(key.size, dtype=bool)
        np.not_equal(key[1:], key[:-1], out=change[1:])
        self.starts = np.flatnonzero(change)
        self.ids = np.cumsum(change) - 1
        self.start_of = self.starts[self.ids]


def _comb_ratio(a: np.ndarray, r: np.ndarray, g: np.ndarray) -> np.ndarray:
    """``C(a, r) / C(g, r)`` elementwise for integers ``0 <= a <= g``, ``r >= 1`` (0 where a < r)."""
    from scipy.special import gammaln

    ok = a >= r
    a_ = np.where(ok, a, r)
    out = np.exp(
        gammaln(a_ + 1.0) - gammaln(a_ - r + 1.0) - gammaln(g + 1.0) + gammaln(g - r + 1.0)
    )
    return np.where(ok, out, 0.0)


class PairStats:
    """Sorted structure of one ``(x, y)`` pair; see the module docstring.

    Parameters
    ----------
    x, y : ndarray of float, shape (n,)
        Validated and NaN-free (infinities are fine for the rank statistics).
    """

    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        n = x.size
        self.n = n
        xr, self.kx = dense_rank(x)
        yr, self.ky = dense_rank(y)
        kxy = xr * self.ky + yr
        self.P = np.argsort(kxy)
        self.xv = x[self.P]
        self.yv = y[self.P]
        self._xr = xr
        self._yr = yr
        self.yrP = yr[self.P]
        self.gx = _Runs(xr[self.P])
        self.gxy = _Runs(kxy[self.P])

    # --- Q-order (by y, then x), built when a statistic needs it -------------------------------
    @cached_property
    def q(self) -> dict[str, np.ndarray]:
        n = self.n
        kyx = self._yr * self.kx + self._xr
        Q = np.argsort(kyx)
        inv_p = np.empty(n, dtype=np.int64)
        inv_p[self.P] = np.arange(n)
        inv_q = np.empty(n, dtype=np.int64)
        inv_q[Q] = np.arange(n)
        qp = inv_q[self.P]  # Q-position of each P-position
        gy = _Runs(self._yr[Q])
        gyx = _Runs(kyx[Q])
        return {
            "pq": inv_p[Q],  # P-position of each Q-position
            "qp": qp,
            "gy_starts": gy.starts,
            "gy_ids_p": gy.ids[qp],  # y-run of each P-position
            "gy_start_p": gy.start_of[qp],  # Q-index of that run's start, per P-position
            "gyx_start_p": gyx.start_of[qp],
        }

    # --- the bit pass --------------------------------------------------------------------------
    def _bit_pass(self, store: bool):
        """Unit-weight lower-left counts (P-order) and, if ``store``, the per-bit index arrays.

        Everything is carried along in the current order (runs of equal higher bits, stable), so
        each bit costs a few sequential passes and three partition scatters.
        """
        n = self.n
        it = np.int32 if n < 2**31 - 1 else np.int64
        nbits = max(1, int(self.ky - 1).bit_length())
        # below[v] = number of elements with y-rank < v, for v = 0 .. 2**nbits
        hist = np.bincount(self.yrP, minlength=1 << nbits)
        below = np.zeros((1 << nbits) + 1, dtype=it)
        np.cumsum(hist, out=below[1:])
        yc = self.yrP.astype(it)
        cur = np.arange(n, dtype=it)
        t = np.arange(n, dtype=it)
        llc = np.zeros(n, dtype=it)
        levels = []
        for s in range(nbits - 1, -1, -1):
            key = yc >> s
            bit = key & 1
            gs = below[(key >> 1) << (s + 1)]  # start of the run of equal higher bits
            zero = 1 - bit
            cz = np.cumsum(zero, dtype=it)
            cz -= zero  # clear bits strictly before, in the current order
            zin = cz - cz[gs]  # ... within the run
            llc += bit * zin
            if store:
                ones = np.flatnonzero(bit)
                zeros = np.flatnonzero(zero)
                levels.append((cur[zeros], cur[ones], cz[ones], cz[gs[ones]]))
            # stable partition of each run: clear bits first, then set bits
            newpos = np.where(bit == 1, below[key << s] + (t - gs) - zin, gs + zin)
            for arr in (yc, llc, cur):
                arr[newpos] = arr.copy()
        lower_left = np.empty(n, dtype=np.int64)
        lower_left[cur] = llc
        return lower_left, levels

    @cached_property
    def unit_lower_left(self) -> np.ndarray:
        return self._bit_pass(store=False)[0]

    @cached_property
    def levels(self) -> list:
        return self._bit_pass(store=True)[1]

    def _weighted_pass(self, wp: np.ndarray, per_element: bool):
        """Weighted lower-left sums for ``wp`` (n, B) in P-order.

        Returns ``(total, ll)``: ``total[b] = sum_p wp[p, b] * ll[p, b]`` (int64) and the
        per-element ``ll`` (``None`` unless ``per_element``).
        """
        b = wp.shape[1]
        total = np.zeros(b, dtype=np.int64)
        ll = np.zeros(wp.shape, dtype=wp.dtype) if per_element else None
        for zpos, opos, zb, zgs in self.levels:
            c = np.zeros((zpos.size + 1, b), dtype=wp.dtype)
            np.cumsum(wp[zpos], axis=0, dtype=wp.dtype, out=c[1:])
            val = c[zb]
            val -= c[zgs]
            if per_element:
                ll[opos] += val
            else:
                total += np.einsum("ij,ij->j", wp[opos], val, dtype=np.int64)
        if per_element:
            total = np.einsum("ij,ij->j", wp, ll, dtype=np.int64)
        return total, ll

    # --- statistics ----------------------------------------------------------------------------
    def compute(
        self,
        w: np.ndarray | None,
        want: frozenset[str] | set[str],
        ks: tuple[int, ...] = (),
        x_better: np.ndarray | None = None,
    ) -> dict[str, np.ndarray]:
        """Statistics for unit weights (``w=None``) or for each column of ``w`` (n, B), item order.

        Columns of ``w`` are resample counts: non-negative integers. They usually sum to ``n``;
        a column may sum to more when the items are the valid subset of a larger resampled
        population (pairwise-complete seed comparisons); the count dtype is sized for the
        largest column sum.

        ``want`` is a subset of :data:`STATISTICS`. Returns arrays of shape (B,) (B = 1 for unit
        weights); top-K entries are keyed ``"p_at_top_k:{k}"`` and so on. ``x_better`` (item
        order, unit weights only) replaces, for BR@K, the weight of strictly better items by a
        count taken in a reference population.
        """
        c = _Compute(self, w)
        if x_better is not None:
            c.x_better = np.asarray(x_better, dtype=np.int64)[self.P][:, None]
        return c.run(want, ks)


def _sq_sum(g: np.ndarray) -> np.ndarray:
    g64 = g.astype(np.int64)
    return np.einsum("ij,ij->j", g64, g64)


class _Compute:
    """One evaluation of :meth:`PairStats.compute`; intermediate arrays are built on first use."""

    def __init__(self, ps: PairStats, w: np.ndarray | None) -> None:
        self.ps = ps
        self.unit = w is None
        n = ps.n
        if w is not None and w.size:
            # a subset of a larger resample can hold more weight than it has items
            n = max(n, int(w.sum(axis=0, dtype=np.int64).max()))
        # counts never exceed the total weight n; per-element sums of a few counts stay < 8 n
        self.dt = np.int16 if n < 2**15 else (np.int32 if n < 2**31 else np.int64)
        self.wide = np.int32 if n < 2**28 else np.int64
        if w is None:
            self.wp = np.ones((n, 1), dtype=self.dt)
        else:
            self.wp = np.ascontiguousarray(w[ps.P], dtype=self.dt)
        self.m = self.wp.sum(axis=0, dtype=np.int64)
        self.q = ps.q
        self.x_better: np.ndarray | None = None

    def __getattr__(self, name: str) -> np.ndarray:  # lazily built intermediates
        if name.startswith("_"):
            raise AttributeError(name)
        val = getattr(self, "_make_" + name)()
        setattr(self, name, val)
        return val

    # cumulative weights and run sums (P-order for x, Q-order for y)
    def _make_cp(self):
        return np.cumsum(self.wp, axis=0, dtype=self.dt)

    def _make_ep(self):
        return self.cp - self.wp

    def _make_wq(self):
        return self.wp[self.q["pq"]]

    def _make_cq(self):
        return np.cumsum(self.wq, axis=0, dtype=self.dt)

    def _make_eq(self):
        return self.cq - self.wq

    @staticmethod
    def _run_sums(c, e, starts):
        ends = np.r_[starts[1:], c.shape[0]]
        return c[ends - 1] - e[starts]

    def _make_g_x(self):
        return self._run_sums(self.cp, self.ep, self.ps.gx.starts)

    def _make_g_xy(self):
        return self._run_sums(self.cp, self.ep, self.ps.gxy.starts)

    def _make_g_y(self):
        return self._run_sums(self.cq, self.eq, self.q["gy_starts"])

    # per-element quantities, P-order
    def _make_xlt(self):  # weight with smaller x
        return self.ep[self.ps.gx.start_of]

    def _make_tx(self):  # weight with equal x (self included)
        return self.g_x[self.ps.gx.ids]

    def _make_ylt(self):
        return self.eq[self.q["gy_start_p"]]

    def _make_ty(self):
        return self.g_y[self.q["gy_ids_p"]]

    def _make_txy(self):
        return self.g_xy[self.ps.gxy.ids]

    def run(self, want, ks) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        if "tau_counts" in want or "weighted_tau" in want:
            per_element = "weighted_tau" in want
            if self.unit:
                ll = self.ps.unit_lower_left[:, None]
                s_ll = ll.sum(axis=0)
            else:
                s_ll, ll = self.ps._weighted_pass(self.wp, per_element)
            # pairs with equal x and different y are not concordant: remove them
            nc = s_ll - (_sq_sum(self.g_x) - _sq_sum(self.g_xy)) // 2
            if "tau_counts" in want:
                m = self.m
                n0 = m * (m - 1) // 2
                n1 = (_sq_sum(self.g_x) - m) // 2
                n2 = (_sq_sum(self.g_y) - m) // 2
                n3 = (_sq_sum(self.g_xy) - m) // 2
                out.update(
                    n=m,
                    n_concordant=nc,
                    n_discordant=n0 - n1 - n2 + n3 - nc,
                    n_pairs=n0,
                    x_ties=n1,
                    y_ties=n2,
                    xy_ties=n3,
                    x_classes=(self.g_x > 0).sum(axis=0),
                    y_classes=(self.g_y > 0).sum(axis=0),
                )
            if per_element:
                out["weighted_tau"] = self.weighted_tau(ll)
        if "spearman" in want:
            out["spearman"] = self.spearman()
        if "pearson" in want:
            out["pearson"] = self.pearson()
        if ks and want & _TOPK:
            self.top_k(out, want, ks)
        return out

    def spearman(self) -> np.ndarray:
        # twice the centred average rank: 2 * (rank - (m + 1) / 2) = 2 * below + tie - m
        m = self.m
        w = self.wide
        rx = 2 * self.xlt.astype(w) + self.tx - m.astype(w)
        ry = 2 * self.ylt.astype(w) + self.ty - m.astype(w)
        cross = np.einsum("ij,ij,ij->j", self.wp, rx, ry, dtype=np.float64) / 4.0
        mf = m.astype(float)
        base = (mf**3 - mf) / 12.0
        gx = self.g_x.astype(float)
        gy = self.g_y.astype(float)
        vx = base - (gx**3 - gx).sum(axis=0) / 12.0
        vy = base - (gy**3 - gy).sum(axis=0) / 12.0
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.clip(cross / np.sqrt(vx * vy), -1.0, 1.0)

    def pearson(self) -> np.ndarray:
        ps = self.ps
        xc = ps.xv - ps.xv.mean()
        yc = ps.yv - ps.yv.mean()
        basis = np.stack([np.ones(ps.n), xc, yc, xc * xc, yc * yc, xc * yc])
        # (B, n) @ (n, 6): this orientation keeps OpenBLAS on its fast path
        s1, sx, sy, sxx, syy, sxy = (self.wp.astype(float).T @ basis.T).T
        cxy = sxy - sx * sy / s1
        cxx = sxx - sx * sx / s1
        cyy = syy - sy * sy / s1
        with np.errstate(invalid="ignore", divide="ignore"):
            r = np.clip(cxy / np.sqrt(cxx * cyy), -1.0, 1.0)
        # a resample with one distinct x or y has no correlation (rounding would say +-1)
        degenerate = ((self.g_x > 0).sum(axis=0) < 2) | ((self.g_y > 0).sum(axis=0) < 2)
        return np.where(degenerate, np.nan, r)

    def weighted_tau(self, ll: np.ndarray) -> np.ndarray:
        """Vigna's additive hyperbolic weighted tau, ``rank=True`` (as scipy.stats.weightedtau)."""
        ps, q, m = self.ps, self.q, self.m
        mm = m.astype(self.wide)
        # per element, weighted (#concordant - #discordant) partners:
        # c = 4 a + m - 2 xlt - 2 ylt - tx - ty + txy + 2 xlye + 2 xeyl, with a = ll - xeyl,
        # xeyl = ep[xy-run start] - xlt and xlye = eq[yx-run start] - ylt
        c = 4 * ll.astype(self.wide)
        c -= 2 * self.ep[ps.gxy.start_of].astype(self.wide)
        c += 2 * self.eq[q["gyx_start_p"]].astype(self.wide)
        c -= 4 * self.ylt.astype(self.wide)
        c += mm
        c -= self.tx
        c -= self.ty
        c += self.txy
        h = harmonic_table(int(m.max()))
        dx = (mm - self.tx).astype(float)
        dy = (mm - self.ty).astype(float)
        taus = []
        for cum, wts, back in ((self.cp, self.wp, None), (self.cq, self.wq, q["qp"])):
            ahead = mm - cum.astype(self.wide)  # weight ahead in the decreasing order
            hh = h[ahead + wts] - h[ahead]
            if back is not None:
                hh = hh[back]
            num = np.einsum("ij,ij->j", hh, c, dtype=np.float64)
            den = np.einsum("ij,ij->j", hh, dx) * np.einsum("ij,ij->j", hh, dy)
            with np.errstate(invalid="ignore", divide="ignore"):
                taus.append(num / np.sqrt(den))
        return np.clip((taus[0] + taus[1]) / 2.0, -1.0, 1.0)

    def top_k(self, out, want, ks) -> None:
        """P@topK, P@bottomK and BR@K, score ties broken uniformly at random (expectation).

        Only the items that can reach the top (bottom) K in some column are touched: a suffix
        (prefix) of the Q-order that starts (ends) on a score-tie boundary.
        """
        ps, q, m = self.ps, self.q, self.m
        gx, gxy = ps.gx, ps.gxy
        starts = q["gy_starts"]
        n = ps.n
        kmax = max(ks)
        eq = self.eq
        for side in ("top", "bottom"):
            names = {"top": {"p_at_top_k", "br_at_k"}, "bottom": {"p_at_bottom_k"}}[side]
            if not want & names:
                continue
            if side == "top":
                # weight at or after each score-tie start (min over columns): keep the last start
                # whose suffix weighs >= kmax everywhere; every earlier item ranks below K
                suffix = (m - eq[starts]).min(axis=1)
                ok = np.flatnonzero(suffix >= kmax)
                lo = int(starts[ok[-1]]) if ok.size else 0
                region = q["pq"][lo:]
            else:
                ends = np.r_[starts[1:], n]
                prefix = np.vstack([eq[starts[1:]], m[None, :]]).min(axis=1)
                ok = np.flatnonzero(prefix >= kmax)
                hi = int(ends[ok[0]]) if ok.size else n
                region = q["pq"][:hi]
            w = self.wp[region].astype(np.int64)
            tx = self.g_x[gx.ids[region]].astype(np.int64)
            ty = self.g_y[q["gy_ids_p"][region]].astype(np.int64)
            xlt = self.ep[gx.start_of[region]].astype(np.int64)
            ylt = eq[q["gy_start_p"][region]].astype(np.int64)
            inv_tx = 1.0 / np.maximum(tx, 1)
            inv_ty = 1.0 / np.maximum(ty, 1)
            if side == "top":
                xgt = m - xlt - tx
                ygt = m - ylt - ty
                if "br_at_k" in want:
                    txy = self.g_xy[gxy.ids[region]].astype(np.int64)
                    xlye = eq[q["gyx_start_p"][region]].astype(np.int64) - ylt
                    better = xgt if self.x_better is None else self.x_better[region]
                for k in ks:
                    if "p_at_top_k" in want:
                        qq = np.clip(k - xgt, 0, tx) * inv_tx
                        pp = np.clip(k - ygt, 0, ty) * inv_ty
                        out[f"p_at_top_k:{k}"] = np.einsum("ij,ij,ij->j", w, pp, qq) / k
                    if "br_at_k" in want:
                        out[f"br_at_k:{k}"] = _best_rank(k, w, better, ygt, ty, txy, xlye)
            else:
                for k in ks:
                    qq = np.clip(k - xlt, 0, tx) * inv_tx
                    pp = np.clip(k - ylt, 0, ty) * inv_ty
                    out[f"p_at_bottom_k:{k}"] = np.einsum("ij,ij,ij->j", w, pp, qq) / k


def _best_rank(k, w, xgt, ygt, ty, txy, xlye) -> np.ndarray:
    """Expected best true rank (0-based: weight strictly better in x) among the K items with the
    highest score, score ties at the K-th slot broken uniformly at random."""
    certain = (ygt + ty <= k) & (w > 0)
    m_c = np.where(certain, xgt, np.iinfo(np.int64).max).min(axis=0).astype(float)
    boundary = (ygt < k) & (ygt + ty > k) & (w > 0)
    # the score-tie group straddling the K-th slot: r of its g copies are picked; copies are
    # visited best-x first, so the first pick decides the best rank within the group
    r = np.where(boundary, k - ygt, 1).astype(float)
    g = np.where(boundary, ty, 1).astype(float)
    t = np.where(boundary, txy, 1).astype(float)
    u0 = np.where(boundary, ty - xlye - txy, 0).astype(float)  # copies with a higher x
    first = _comb_ratio(g - u0, r, g) - _comb_ratio(g - u0 - t, r, g)
    share = np.where(boundary, first * w / t, 0.0)
    best = np.minimum(xgt.astype(float), m_c[None, :])
    expected = (share * best).sum(axis=0)
    return np.where(boundary.any(axis=0), expected, m_c)
