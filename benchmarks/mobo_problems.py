"""Standard multi-objective test problems as Tune search spaces, with reference points and maximum hypervolumes.

Each :class:`Problem` is a Tune ``param_space`` of ``tune.uniform`` knobs ``x0, x1, ...`` (in the
mixed variants some are ``tune.randint`` steps or a ``tune.choice`` of labels) and a function
``config -> {"f0": ..., "f1": ...}``, every objective minimised.  The hypervolume of a set of
evaluations is taken w.r.t. the reference point ``ref``; ``max_hv`` is the largest hypervolume any
set can reach (the Pareto front's), or a best-known value where no exact one is published.

=============  ======================  ===  ===  ===========================  ========================================
name           function                 d    m   reference point              maximum hypervolume (provenance)
=============  ======================  ===  ===  ===========================  ========================================
branincurrin   BoTorch BraninCurrin      2    2   BoTorch (18, 6)              BoTorch ``max_hv`` (its NSGA-II estimate)
zdt1           BoTorch ZDT1              6    2   BoTorch (11, 11)             BoTorch ``max_hv`` (exact, 120 + 2/3)
zdt2           BoTorch ZDT2              6    2   BoTorch (11, 11)             BoTorch ``max_hv`` (exact, 120 + 1/3)
zdt3           BoTorch ZDT3              6    2   BoTorch (11, 11)             BoTorch ``max_hv``
dtlz1          BoTorch DTLZ1             6    2   BoTorch (400, 400)           BoTorch ``max_hv`` (exact, 400^2 - 1/4)
dtlz2          BoTorch DTLZ2             6    3   BoTorch (1.1, 1.1, 1.1)      BoTorch ``max_hv`` (exact: cube - sphere)
dtlz7          BoTorch DTLZ7             6    2   BoTorch (15, 15)             best known: a dense sample of the Pareto set
dh1            BoTorch DH1               4    2   BoTorch (1.1, 1.1)           BoTorch ``max_hv`` (exact, 1.21 - 2/3)
dh3            BoTorch DH3               4    2   BoTorch (1.1, 1.1)           BoTorch ``max_hv`` (box - area under front)
gmm            BoTorch GMM               2    2   BoTorch (-0.2338, -0.2211)   best known: dense input grid, refined
vehiclesafety  BoTorch VehicleSafety     5    3   BoTorch                      BoTorch ``max_hv``
carsideimpact  BoTorch CarSideImpact     7    4   BoTorch                      BoTorch ``max_hv``
penicillin     BoTorch Penicillin        7    3   BoTorch                      BoTorch ``max_hv``
wfg2           pymoo ``wfg2``            6    2   1.1 x the front's nadir      best known: a dense sample of the Pareto set
wfg4           pymoo ``wfg4``            6    2   1.1 x the front's nadir      best known: a dense sample of the Pareto set
zdt1-mixed     ZDT1, x2-x4 in 11 steps,  6    2   as zdt1                      as zdt1 (the optimal set stays reachable)
               x5 a 4-label choice
dtlz2-mixed    DTLZ2, x2-x4 in 11 steps, 6    3   as dtlz2                     as dtlz2 (the optimal set stays reachable)
               x5 a 4-label choice
=============  ======================  ===  ===  ===========================  ========================================

The best-known values (``dtlz7``, ``gmm``, ``wfg2``, ``wfg4``) are stored below and recomputed by
:func:`best_known_hv` (``python -m benchmarks mobo --max-hv``): they are lower bounds, so a run may
exceed one by a hair; the harness then counts the gap as 0 and says so.  A mixed variant's stepped
knob ``k`` (``tune.randint(0, STEPS + 1)``) is the input ``lo + k / STEPS * (hi - lo)``; its label
knob is the input at the fraction :data:`LABELS` gives of the range (labels are unordered to the
searchers).  The fractions include each problem's optimal value of those inputs (0 for ZDT1's
distance inputs, 1/2 for DTLZ2's), so the front and ``max_hv`` are those of the continuous problem.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

STEPS = 10
LABELS = {"a": 0.5, "b": 0.0, "c": 1.0, "d": 0.25}  # label -> fraction of the input's range


@dataclass(frozen=True)
class Problem:
    """One test problem.

    Attributes:
        name: the problem's name on the command line.
        F: ``F(X) -> Y``: inputs ``(n, d)`` in the box ``lo..hi`` to objectives ``(n, m)``, minimised.
        lo, hi: the input box, ``d`` values each.
        ref: the hypervolume reference point, ``m`` values.
        max_hv: the maximum (or best-known) hypervolume w.r.t. ``ref``.
        provenance: where ``ref`` and ``max_hv`` come from.
        stepped: inputs searched as ``tune.randint`` steps (mixed variants).
        labelled: inputs searched as a ``tune.choice`` of :data:`LABELS`.
    """

    name: str
    F: Callable[[np.ndarray], np.ndarray]
    lo: tuple[float, ...]
    hi: tuple[float, ...]
    ref: tuple[float, ...]
    max_hv: float
    provenance: str
    stepped: tuple[int, ...] = ()
    labelled: tuple[int, ...] = ()
    n_obj: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "n_obj", len(self.ref))

    @property
    def metrics(self) -> list[str]:
        """The objectives' result keys, ``f0 .. f{m-1}``."""
        return [f"f{j}" for j in range(self.n_obj)]

    def param_space(self) -> dict[str, Any]:
        """A fresh Tune ``param_space``: ``x{i}`` per input (uniform, stepped or labelled)."""
        from ray import tune

        def knob(i: int) -> Any:
            if i in self.stepped:
                return tune.randint(0, STEPS + 1)
            if i in self.labelled:
                return tune.choice(list(LABELS))
            return tune.uniform(self.lo[i], self.hi[i])
        return {f"x{i}": knob(i) for i in range(len(self.lo))}

    def inputs(self, config: dict[str, Any]) -> np.ndarray:
        """The input vector of a config of :meth:`param_space`."""
        x = []
        for i, (lo, hi) in enumerate(zip(self.lo, self.hi)):
            v = config[f"x{i}"]
            frac = int(v) / STEPS if i in self.stepped else LABELS[v] if i in self.labelled else None
            x.append(float(v) if frac is None else lo + frac * (hi - lo))
        return np.array(x)

    def objective(self, config: dict[str, Any]) -> dict[str, float]:
        """``{"f0": ..., ...}`` of a config (all minimised)."""
        y = self.F(self.inputs(config)[None])[0]
        return {k: float(v) for k, v in zip(self.metrics, y)}

    def sample(self, n: int, rng: np.random.Generator) -> list[dict[str, Any]]:
        """``n`` uniformly random configs (the probe of :func:`probe_bounds`)."""
        def one() -> dict[str, Any]:
            return {f"x{i}": int(rng.integers(STEPS + 1)) if i in self.stepped
                    else str(rng.choice(list(LABELS))) if i in self.labelled
                    else float(rng.uniform(self.lo[i], self.hi[i])) for i in range(len(self.lo))}
        return [one() for _ in range(n)]


def _botorch_F(fn: Any) -> Callable[[np.ndarray], np.ndarray]:
    import torch

    def F(X: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return fn.evaluate_true(torch.as_tensor(X, dtype=torch.double)).numpy()
    return F


def _botorch(name: str, cls: str, best_known: float | None = None, note: str = "", **kw: Any) -> Problem:
    """A BoTorch problem (``negate=False``: minimised); ``max_hv`` BoTorch's unless ``best_known``."""
    from botorch.test_functions import multi_objective as mo

    fn = getattr(mo, cls)(**kw)
    lo, hi = fn.bounds.numpy()
    ref = tuple(float(r) for r in fn.ref_point)
    if best_known is None:
        max_hv, prov = float(fn.max_hv), f"ref and max_hv: BoTorch {cls}{note}"
    else:
        max_hv, prov = best_known, f"ref: BoTorch {cls}; max_hv: {note}"
    return Problem(name, _botorch_F(fn), tuple(map(float, lo)), tuple(map(float, hi)), ref, max_hv, prov)


def _pymoo(name: str, best_known: float, note: str, **kw: Any) -> Problem:
    """A pymoo problem, reference point 1.1 x its front's nadir (:data:`FRONT_NADIR`)."""
    from pymoo.problems import get_problem

    p = get_problem(name, **kw)
    ref = tuple(1.1 * v for v in FRONT_NADIR[name])
    return Problem(name, lambda X: p.evaluate(X, return_values_of=["F"]), tuple(map(float, p.xl)),
                   tuple(map(float, p.xu)), ref, best_known, f"pymoo {name}; ref 1.1 x the front's nadir; {note}")


# Best-known maximum hypervolumes (recomputed by best_known_hv; see the module docstring).
BEST_KNOWN = {"dtlz7": 189.4307692425938, "gmm": 0.17573972496854473, "wfg2": 6.151083359580828,
              "wfg4": 3.396764375213755}
FRONT_NADIR = {"wfg2": (2.0, 4.0), "wfg4": (2.0, 4.0)}  # WFG: f_j = x_M + 2 j h_j, h_j in [0, 1]
WFG_KW = dict(n_var=6, n_obj=2)


def _mixed(base: Problem, name: str, stepped: tuple[int, ...], labelled: tuple[int, ...]) -> Problem:
    return Problem(name, base.F, base.lo, base.hi, base.ref, base.max_hv,
                   base.provenance + "; the optimal set stays reachable", stepped, labelled)


def _build(name: str) -> Problem:
    dtlz7_note = ("best known, HV of 200,001 Pareto-optimal inputs (x1.. = 0, x0 evenly spaced); the HV of "
                  "pymoo's 10,000-point dtlz7 pareto_front() is 189.42714, 0.0036 less")
    table: dict[str, Callable[[], Problem]] = {
        "branincurrin": lambda: _botorch(name, "BraninCurrin", note=" (its NSGA-II estimate)"),
        "zdt1": lambda: _botorch(name, "ZDT1", dim=6),
        "zdt2": lambda: _botorch(name, "ZDT2", dim=6),
        "zdt3": lambda: _botorch(name, "ZDT3", dim=6),
        "dtlz1": lambda: _botorch(name, "DTLZ1", dim=6, num_objectives=2),
        "dtlz2": lambda: _botorch(name, "DTLZ2", dim=6, num_objectives=3),
        "dtlz7": lambda: _botorch(name, "DTLZ7", BEST_KNOWN["dtlz7"], dtlz7_note, dim=6, num_objectives=2),
        "dh1": lambda: _botorch(name, "DH1", dim=4),
        "dh3": lambda: _botorch(name, "DH3", dim=4),
        "gmm": lambda: _botorch(name, "GMM", BEST_KNOWN["gmm"], GMM_NOTE, num_objectives=2),
        "vehiclesafety": lambda: _botorch(name, "VehicleSafety"),
        "carsideimpact": lambda: _botorch(name, "CarSideImpact"),
        "penicillin": lambda: _botorch(name, "Penicillin"),
        "wfg2": lambda: _pymoo("wfg2", BEST_KNOWN["wfg2"], WFG_NOTE, **WFG_KW),
        "wfg4": lambda: _pymoo("wfg4", BEST_KNOWN["wfg4"], WFG_NOTE, **WFG_KW),
        "zdt1-mixed": lambda: _mixed(_build("zdt1"), name, (2, 3, 4), (5,)),
        "dtlz2-mixed": lambda: _mixed(_build("dtlz2"), name, (2, 3, 4), (5,)),
    }
    if name not in table:
        raise ValueError(f"unknown problem {name!r}; allowed: {', '.join(PROBLEMS)}")
    return table[name]()


PROBLEMS = ("branincurrin", "zdt1", "zdt2", "zdt3", "dtlz1", "dtlz2", "dtlz7", "dh1", "dh3", "gmm", "vehiclesafety",
            "carsideimpact", "penicillin", "wfg2", "wfg4", "zdt1-mixed", "dtlz2-mixed")
GMM_NOTE = ("best known: HV of the non-dominated points of a 1001^2 input grid, refined 3 times on an 11^2 "
            "grid of half a cell around each")
WFG_NOTE = ("max_hv: best known, HV of a dense sample of the Pareto set (Huband et al. 2006: distance inputs at "
            "0.35 x their upper bound; 100,000 random and 100,000 diagonal position inputs)")


def get_problem(name: str) -> Problem:
    """The problem ``name`` (one of :data:`PROBLEMS`).

    Raises:
        ValueError: an unknown name.
    """
    return _build(name)


def best_known_hv(name: str) -> float:
    """Recompute the stored best-known maximum hypervolume of ``name`` (see the module docstring).

    Raises:
        ValueError: ``name`` has no best-known value (its ``max_hv`` is BoTorch's).
    """
    from coflex_ray.searchers.pareto import hypervolume, nondominated

    p = get_problem(name)
    if name == "dtlz7":
        X = np.zeros((200_001, len(p.lo)))
        X[:, 0] = np.linspace(0.0, 1.0, len(X))
        F = p.F(X)
    elif name in FRONT_NADIR:
        F = p.F(_wfg_pareto_set(name, 100_000))
    elif name == "gmm":
        F = _refined_grid_front(p.F, 1001, rounds=3, sub=11)
    else:
        raise ValueError(f"{name!r} has no best-known value: its max_hv is BoTorch's")
    F = F[np.all(F < np.array(p.ref), axis=1)]
    return hypervolume(F[nondominated(F)], p.ref)


def _wfg_pareto_set(name: str, n: int) -> np.ndarray:
    """``2 n`` Pareto-optimal inputs of the WFG problem ``name`` (``WFG_KW``): ``n`` seeded random
    position inputs and ``n`` on the diagonal (every position input equal, so the front's ends are
    reached), the distance inputs at 0.35 x their upper bound."""
    from pymoo.problems import get_problem as pymoo_problem

    q = pymoo_problem(name, **WFG_KW)
    K = np.vstack([np.random.default_rng(0).random((n, q.k)), np.repeat(np.linspace(0, 1, n)[:, None], q.k, 1)])
    return np.column_stack([K, np.full((2 * n, q.l), 0.35)]) * q.xu


def _refined_grid_front(F: Callable[[np.ndarray], np.ndarray], n: int, rounds: int, sub: int) -> np.ndarray:
    """Non-dominated objective vectors of an ``n x n`` grid on the unit square, refined ``rounds``
    times: a ``sub x sub`` grid of half a cell around every non-dominated point, the cell shrinking."""
    from coflex_ray.searchers.pareto import nondominated

    g = np.linspace(0.0, 1.0, n)
    X = np.stack(np.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)
    Y = F(X)
    keep = nondominated(Y)
    X, Y = X[keep], Y[keep]
    cell = 1.0 / (n - 1)
    for _ in range(rounds):
        off = np.linspace(-cell / 2, cell / 2, sub)
        grid = np.stack(np.meshgrid(off, off, indexing="ij"), -1).reshape(-1, 2)
        Xn = np.clip((X[:, None, :] + grid[None]).reshape(-1, 2), 0.0, 1.0)
        X, Y = np.vstack([X, Xn]), np.vstack([Y, F(Xn)])
        keep = nondominated(Y)
        X, Y, cell = X[keep], Y[keep], cell / (sub - 1)
    return Y


def probe_bounds(p: Problem) -> dict[str, list[float]]:
    """The searchers' fixed objective bounds, as a study without a reference front fixes them: min and
    max of each objective over the study's fixed-seed probe of random configs (equal ends widened
    by 1)."""
    from coflex_ray.study.bounds import PROBE_N, PROBE_SEED

    Y = np.array([list(p.objective(c).values()) for c in p.sample(PROBE_N, np.random.default_rng(PROBE_SEED))])
    lo, hi = Y.min(axis=0), Y.max(axis=0)
    return {k: [float(a), float(b) if b > a else float(a) + 1.0] for k, a, b in zip(p.metrics, lo, hi)}

