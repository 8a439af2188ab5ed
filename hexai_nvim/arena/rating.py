"""The rating: a multi-way Bradley-Terry/Luce choice model with a position term.

Each battle is a set of shown suggestions, each from a model in a slot, and
the group the person chose (one suggestion, or several identical ones: a
tie). The chance that the chosen group wins is

    P(C | S) = sum_{i in C} exp(theta[m_i] + beta[s_i]) / sum_{j in S} exp(theta[m_j] + beta[s_j])

``theta`` is a model's strength and ``beta`` the pull of a slot (slot 0 is
the reference, ``beta[0] = 0``), so a model that is often chosen only because
it is shown first does not get the credit. Both have a Gaussian prior
(``prior_sd``, ``slot_prior_sd``): with a handful of battles the strengths
stay near 0 and their intervals stay wide. The fit is the posterior mode
(damped Newton); intervals come from the curvature there (Laplace), 95 %.

What a caller may rely on:

- :func:`fit` is deterministic (same battles, same order: same numbers) and
  pure Python; identical battles are counted once with a weight, so the cost
  grows with the number of *different* battles, not with all of them.
- :class:`Fit` scores are centred (the models' mean strength is 0); the
  interval of a difference (:meth:`Fit.difference`) uses the covariance.
- A battle in which every shown suggestion was chosen (all tied) says
  nothing and is dropped; so are battles with fewer than two models.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

#: z for a two-sided 95 % interval.
Z95 = 1.959963984540054
#: Strength units per Elo-like point: 400 / ln(10) points is a factor e in odds.
ELO_PER_UNIT = 400.0 / math.log(10.0)
ELO_BASE = 1000.0


@dataclass(frozen=True)
class Battle:
    """Who was shown where, and which of them were chosen."""

    #: (model key, slot) of each shown suggestion.
    shown: tuple[tuple[str, int], ...]
    #: Positions in ``shown`` of the chosen group (ties: several).
    chosen: frozenset[int]


@dataclass(frozen=True)
class Fit:
    """The fitted strengths (centred), their covariance and the slot terms."""

    models: tuple[str, ...]
    #: Centred strengths, in the order of ``models``.
    theta: tuple[float, ...]
    #: Covariance of the centred strengths.
    cov: tuple[tuple[float, ...], ...]
    #: Slots seen (0 first); ``beta[k]`` is the pull of ``slots[k]`` vs slot 0.
    slots: tuple[int, ...]
    beta: tuple[float, ...]
    beta_sd: tuple[float, ...]
    #: Battles per model and battles won (chosen, ties included).
    battles: tuple[int, ...]
    wins: tuple[int, ...]
    iterations: int
    converged: bool

    def index(self, model: str) -> int:
        return self.models.index(model)

    def sd(self, i: int) -> float:
        return math.sqrt(max(self.cov[i][i], 0.0))

    def interval(self, i: int) -> tuple[float, float]:
        """95 % interval of model ``i``'s centred strength."""
        half = Z95 * self.sd(i)
        return self.theta[i] - half, self.theta[i] + half

    def difference(self, i: int, j: int) -> tuple[float, float, float]:
        """``theta[i] - theta[j]`` and its 95 % interval."""
        var = self.cov[i][i] + self.cov[j][j] - 2.0 * self.cov[i][j]
        diff = self.theta[i] - self.theta[j]
        half = Z95 * math.sqrt(max(var, 0.0))
        return diff, diff - half, diff + half

    def elo(self, i: int) -> tuple[float, float]:
        """Model ``i`` on an Elo-like scale (1000 = the models' mean) and its ± half-width."""
        return ELO_BASE + ELO_PER_UNIT * self.theta[i], ELO_PER_UNIT * Z95 * self.sd(i)

    def slot_odds(self, k: int) -> tuple[float, float, float]:
        """How much more (or less) often ``slots[k]`` is chosen than slot 0, same model:
        the odds factor and its 95 % interval."""
        b, sd = self.beta[k], self.beta_sd[k]
        return math.exp(b), math.exp(b - Z95 * sd), math.exp(b + Z95 * sd)


def fit(
    battles: Iterable[Battle],
    *,
    prior_sd: float = 1.0,
    slot_prior_sd: float = 1.0,
    max_iterations: int = 50,
    tolerance: float = 1e-9,
) -> Fit:
    """The posterior mode of the choice model over ``battles``."""
    patterns: dict[tuple[tuple[tuple[str, int], ...], frozenset[int]], int] = {}
    battles_of: dict[str, int] = {}
    wins_of: dict[str, int] = {}
    for battle in battles:
        shown = battle.shown
        if len({m for m, _ in shown}) < 2 or not battle.chosen:
            continue
        if len(battle.chosen) >= len(shown):
            continue  # everything chosen: no preference
        key = (shown, battle.chosen)
        patterns[key] = patterns.get(key, 0) + 1
        seen = {m for m, _ in shown}
        for m in seen:
            battles_of[m] = battles_of.get(m, 0) + 1
        for m in {shown[i][0] for i in battle.chosen}:
            wins_of[m] = wins_of.get(m, 0) + 1

    models = tuple(sorted(battles_of))
    slots = tuple(sorted({s for (shown, _c) in patterns for _m, s in shown} | {0}))
    n_models = len(models)
    model_pos = {m: i for i, m in enumerate(models)}
    slot_pos = {s: n_models + k - 1 for k, s in enumerate(slots) if k > 0}
    size = n_models + len(slots) - 1
    # Each pattern as parameter positions (model, slot or -1) plus its chosen flags.
    compiled: list[tuple[list[tuple[int, int]], list[bool], int]] = []
    for (shown, chosen), count in patterns.items():
        items = [(model_pos[m], slot_pos.get(s, -1)) for m, s in shown]
        flags = [i in chosen for i in range(len(shown))]
        compiled.append((items, flags, count))
    precision = [1.0 / prior_sd**2] * n_models + [1.0 / slot_prior_sd**2] * (size - n_models)

    params = [0.0] * size
    iterations = 0
    converged = size == 0
    objective = _objective(compiled, params, precision)
    hessian: list[list[float]] = [[precision[i] if i == j else 0.0 for j in range(size)]
                                  for i in range(size)]
    while not converged and iterations < max_iterations:
        iterations += 1
        grad, hessian, fisher = _derivatives(compiled, params, precision)
        factor = _cholesky(hessian) or _cholesky(fisher)
        assert factor is not None  # fisher = prior + PSD is positive definite
        step = _solve(factor, grad)
        scale = 1.0
        while True:
            trial = [p + scale * d for p, d in zip(params, step, strict=True)]
            value = _objective(compiled, trial, precision)
            if value <= objective + 1e-12 or scale < 1e-6:
                break
            scale /= 2.0
        change = max((abs(scale * d) for d in step), default=0.0)
        params, objective = trial, value
        if change < tolerance:
            converged = True
    _grad, hessian, fisher = _derivatives(compiled, params, precision)
    factor = _cholesky(hessian) or _cholesky(fisher)
    assert factor is not None
    cov_full = _inverse(factor, size)

    # Centre the strengths: theta_c = C theta with C = I - 1/n.
    mean = sum(params[:n_models]) / n_models if n_models else 0.0
    theta = tuple(p - mean for p in params[:n_models])
    block = [row[:n_models] for row in cov_full[:n_models]]
    row_mean = [sum(r) / n_models for r in block] if n_models else []
    total_mean = sum(row_mean) / n_models if n_models else 0.0
    cov = tuple(
        tuple(block[i][j] - row_mean[i] - row_mean[j] + total_mean for j in range(n_models))
        for i in range(n_models)
    )
    beta = (0.0, *tuple(params[n_models:]))
    beta_sd = (0.0, *tuple(math.sqrt(max(cov_full[i][i], 0.0)) for i in range(n_models, size)))
    return Fit(
        models=models,
        theta=theta,
        cov=cov,
        slots=slots,
        beta=beta,
        beta_sd=beta_sd,
        battles=tuple(battles_of[m] for m in models),
        wins=tuple(wins_of.get(m, 0) for m in models),
        iterations=iterations,
        converged=converged,
    )


# ---------------------------------------------------------------------------
# Helpers (small dense linear algebra; a few dozen parameters at most)
# ---------------------------------------------------------------------------

_Compiled = Sequence[tuple[list[tuple[int, int]], list[bool], int]]


def _utilities(items: list[tuple[int, int]], params: Sequence[float]) -> list[float]:
    return [params[m] + (params[s] if s >= 0 else 0.0) for m, s in items]


def _logsumexp(values: Iterable[float]) -> float:
    vals = list(values)
    top = max(vals)
    return top + math.log(sum(math.exp(v - top) for v in vals))


def _objective(compiled: _Compiled, params: Sequence[float], precision: Sequence[float]) -> float:
    """The negative log posterior (up to a constant)."""
    total = 0.5 * sum(p * p * w for p, w in zip(params, precision, strict=True))
    for items, flags, count in compiled:
        u = _utilities(items, params)
        chosen = _logsumexp(v for v, f in zip(u, flags, strict=True) if f)
        total -= count * (chosen - _logsumexp(u))
    return total


def _derivatives(
    compiled: _Compiled, params: Sequence[float], precision: Sequence[float]
) -> tuple[list[float], list[list[float]], list[list[float]]]:
    """Newton direction parts: minus the gradient of the objective, its Hessian,
    and the Hessian without the ties' (positive) curvature, always positive definite."""
    size = len(params)
    grad = [-p * w for p, w in zip(params, precision, strict=True)]
    hess = [[precision[i] if i == j else 0.0 for j in range(size)] for i in range(size)]
    fisher = [row[:] for row in hess]
    for items, flags, count in compiled:
        u = _utilities(items, params)
        top = max(u)
        e = [math.exp(v - top) for v in u]
        z = sum(e)
        p = [x / z for x in e]
        zc = sum(x for x, f in zip(e, flags, strict=True) if f)
        q = [x / zc if f else 0.0 for x, f in zip(e, flags, strict=True)]
        n = len(items)
        for a in range(n):
            weight = count * (q[a] - p[a])
            m, s = items[a]
            grad[m] += weight
            if s >= 0:
                grad[s] += weight
        for a in range(n):
            for b in range(n):
                cov_s = (p[a] if a == b else 0.0) - p[a] * p[b]
                cov_c = (q[a] if a == b else 0.0) - q[a] * q[b]
                if cov_s == 0.0 and cov_c == 0.0:
                    continue
                full = count * (cov_s - cov_c)
                part = count * cov_s
                ma, sa = items[a]
                mb, sb = items[b]
                for x in (ma, sa):
                    if x < 0:
                        continue
                    for y in (mb, sb):
                        if y < 0:
                            continue
                        hess[x][y] += full
                        fisher[x][y] += part
    return grad, hess, fisher


def _cholesky(matrix: list[list[float]]) -> list[list[float]] | None:
    """Lower factor of a symmetric positive definite matrix, None when it is not."""
    n = len(matrix)
    low = [[0.0] * n for _ in range(n)]
    for i in range(n):
        for j in range(i + 1):
            acc = matrix[i][j] - sum(low[i][k] * low[j][k] for k in range(j))
            if i == j:
                if acc <= 1e-12:
                    return None
                low[i][i] = math.sqrt(acc)
            else:
                low[i][j] = acc / low[j][j]
    return low


def _solve(low: list[list[float]], rhs: Sequence[float]) -> list[float]:
    n = len(low)
    y = [0.0] * n
    for i in range(n):
        y[i] = (rhs[i] - sum(low[i][k] * y[k] for k in range(i))) / low[i][i]
    x = [0.0] * n
    for i in reversed(range(n)):
        x[i] = (y[i] - sum(low[k][i] * x[k] for k in range(i + 1, n))) / low[i][i]
    return x


def _inverse(low: list[list[float]], n: int) -> list[list[float]]:
    columns = [_solve(low, [1.0 if r == c else 0.0 for r in range(n)]) for c in range(n)]
    return [[columns[c][r] for c in range(n)] for r in range(n)]


def wilson(successes: int, trials: int) -> tuple[float | None, float | None, float | None]:
    """A proportion and its 95 % Wilson interval; Nones for no trials."""
    if trials <= 0:
        return None, None, None
    p = successes / trials
    z2 = Z95 * Z95
    centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
    half = Z95 * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / (1 + z2 / trials)
    return p, max(0.0, centre - half), min(1.0, centre + half)
