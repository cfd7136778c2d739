"""Command line of the comparison experiments (``experiments/sss.py``, ``experiments/nb201.py``).

:func:`main` runs these steps, each its own function:

1. :func:`~coflex_ray.study.config.parse_args` and :meth:`StudyConfig.from_args
   <coflex_ray.study.config.StudyConfig.from_args>`: the flags, checked and with their defaults, as
   one frozen config; an explicit flag always wins over the ``--smoke`` defaults.  Flag values and
   usable ``--out``/``--hw-cache`` paths and cache file are checked here, and a missing searcher
   library fails here in about half a second, before torch, ZigZag or Ray load.
2. :func:`prepare`: everything else that can fail on bad input, before Ray starts or anything is
   written: the network evaluator, the reference front, ``--bounds``, and every (searcher, seed)
   built.  Bad input in steps 1-2: one ``error: ...`` line, exit code 2, nothing written.
3. :func:`claim_out`: create ``--out`` and lock it (a second study on the same folder is refused).
4. :func:`start_services`: Ray (local or ``--address``) and the shared layer-cost cache actors.
5. :func:`fix_bounds`: the objective bounds (``--bounds``, the benchmark's reference front, or a
   fixed-seed probe); a probe with no feasible configuration stops the study with one line and
   removes what it created.
6. :func:`run`: the study (:func:`coflex_ray.study.runs.run_study`); a run that fails is ``[failed]``.
7. :func:`report`: tables, rank tests and plots of the runs that finished; exit code 1 if any failed.

Multi-fidelity (``--fidelity-ladder``, ``--scheduler``, ``--grace``, ``--reduction-factor``; see
:mod:`coflex_ray.fidelity`): checked in step 1 like every flag; step 4 starts one layer-cost pool per
hardware tier, step 5 probes at the cheapest tier, step 6 gives every (searcher, seed) run its own
scheduler and keeps every rung's row, step 7 counts the top rung only.
"""

from __future__ import annotations

import sys
import textwrap
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

# Light imports only: the heavy ones (torch, ZigZag, Ray) load once the flags are known to be good.
from .evaluators.nats_sss import NatsDataError
from .preflight import LOCK_NAME, explain_probe, lock_out
from .study.config import StudyConfig, parse_args
from .study.runs import build_searchers

if TYPE_CHECKING:
    import pandas as pd
    from ray.tune.schedulers import TrialScheduler
    from ray.tune.search import SearchAlgorithm, Searcher

    from .evaluators.accuracy import AccuracyEvaluator
    from .fidelity import Ladder
    from .reference_fronts import ReferenceFront
    from .service import HardwarePool
    from .spaces import Space
    from .trial import EvalSpec


@dataclass(frozen=True)
class Plan:
    """Everything a study needs, built and checked before Ray starts."""

    config: StudyConfig
    evaluator: AccuracyEvaluator
    spec: EvalSpec
    space: Space
    reference: ReferenceFront | None
    bounds: dict[str, list[float]] | None  # from config.bounds, else fixed later (fix_bounds)
    built: dict[tuple[str, int], Searcher | SearchAlgorithm]  # (searcher, seed) -> the Tuner's search_alg
    schedulers: dict[tuple[str, int], TrialScheduler]  # (searcher, seed) -> a Tune scheduler; {} = FIFO

    @property
    def hw(self) -> str:
        return self.spec.hw_metric

    @property
    def ladder(self) -> Ladder | None:
        """The multi-fidelity ladder (None: one evaluation per trial)."""
        return self.config.ladder


def prepare(config: StudyConfig) -> Plan:
    """Step 2: build the evaluator, spec, space, reference front and every searcher (no Ray)."""
    from .analysis import load_bounds
    from .evaluators.accuracy import make_accuracy_evaluator
    from .reference_fronts import reference_front_for
    from .spaces import ACCEL_SPACE, NB201_SPACE, SSS_SPACE, joint
    from .trial import EvalSpec

    benchmark, ladder = config.benchmark, config.ladder
    evaluator = make_accuracy_evaluator(benchmark, config.dataset, config.nats_sss,
                                        network_evaluator=config.network_evaluator)
    # a hardware ladder: the spec's fidelity is its cheapest tier (the bounds probe runs there); the
    # trials climb the ladder
    first = ladder.rungs[0] if ladder is not None and ladder.kind == "hardware" else config.fidelity
    spec = EvalSpec(benchmark, config.dataset, config.nats_sss, fidelity=first, device=config.device,
                    timeout_s=config.trial_timeout or None, network_evaluator=config.network_evaluator)
    bounds = load_bounds(config.bounds, spec.hw_metric) if config.bounds else None
    final_tier = ladder.top_tier if ladder is not None and ladder.kind == "hardware" else config.fidelity
    reference = reference_front_for(benchmark, config.dataset, final_tier, config.device, evaluator.source.name)
    net_space = SSS_SPACE if benchmark == "sss" else NB201_SPACE
    space = net_space if config.device else joint(net_space, ACCEL_SPACE)
    built = build_searchers(list(config.searchers), space, list(config.seeds), config.n_init, config.concurrency,
                            spec.hw_metric, constraints=config.constraints)
    schedulers = {}
    if ladder is not None:
        from .study.runs import build_schedulers

        schedulers = build_schedulers(config.scheduler, list(built), ladder, spec.hw_metric, config.grace,
                                      config.reduction_factor)
    return Plan(config, evaluator, spec, space, reference, bounds, built, schedulers)


def claim_out(out: Path) -> Path | None:
    """Step 3: create and lock ``out``; returns what this run created (the top new folder, or the lock
    file in an existing folder), so a study that ends before it starts can remove exactly that."""
    created = next((p for p in reversed([out, *out.absolute().parents]) if not p.exists()), None)
    created = created or (out / LOCK_NAME if not (out / LOCK_NAME).exists() else None)
    out.mkdir(parents=True, exist_ok=True)
    lock_out(out)  # before Ray starts: a second study on the same (existing) --out stops here
    return created


def start_services(plan: Plan) -> HardwarePool | dict[str, HardwarePool] | None:
    """Step 4: Ray (local, sized for the runs at once, or ``--address``) and the hardware cache actors:
    one pool, one per tier of a hardware ladder, or None for a measured device."""
    from .runner import init_ray
    from .service import HardwarePool

    config = plan.config
    init_ray(config.address, num_cpus=None if config.address else config.concurrency * config.parallel_runs)
    if config.device:
        return None
    if plan.ladder is not None and plan.ladder.kind == "hardware":  # one pool (cache) per tier
        return {tier: HardwarePool(tier, lpf_limit=config.lpf_limit) for tier in plan.ladder.rungs}
    return HardwarePool(config.fidelity, lpf_limit=config.lpf_limit, path=config.hw_cache)


def fix_bounds(plan: Plan, pool: HardwarePool | dict[str, HardwarePool] | None, out: Path) -> tuple[dict, str]:
    """Step 5: the study's objective bounds and where they came from; ValueError (with the probe's
    most common failure and what to change) if a probe finds no feasible configuration."""
    from .analysis import check_bounds_plausible, check_constraints_met, save_bounds
    from .study.bounds import probe_bounds, probe_rows, set_study_bounds
    from .trial import evaluate_config

    config, hw = plan.config, plan.hw
    probe_pool = pool[plan.spec.fidelity] if isinstance(pool, dict) else pool  # a ladder: its cheapest tier
    rows: list[dict] = []  # every probe evaluation, for the message of a probe that finds nothing feasible

    def evaluate(c: dict) -> dict:
        rows.append(evaluate_config(c, plan.spec, probe_pool))
        return rows[-1]

    if plan.bounds is not None:
        bounds, source = plan.bounds, f"--bounds {config.bounds}"
        if config.bounds != str(out / "bounds.json"):  # bounds from another study: do they fit this one?
            check_bounds_plausible(bounds, probe_rows(evaluate, plan.space, PLAUSIBILITY_PROBE_N), hw, source)
    elif plan.reference is not None:  # normalise by the reference front's ideal and nadir
        bounds, source = plan.reference.bounds, f"the {plan.reference.kind} reference front's ideal and nadir"
    else:
        start, n_probe = time.time(), config.probe_n
        try:
            bounds = probe_bounds(evaluate, plan.space, n_probe, hw)
        except ValueError:
            raise ValueError(explain_probe(rows, plan.spec.timeout_s)) from None
        source = f"a fixed-seed probe of {n_probe} random configs ({time.time() - start:.0f}s)"
    if config.constraints:  # before any run: a bound that no probe point meets stops the study
        import pandas as pd

        probe = pd.DataFrame(rows) if len(rows) >= config.probe_n else probe_rows(evaluate, plan.space, config.probe_n)
        check_constraints_met(probe, config.constraints)
    print(f"objective bounds ({source}): err {bounds['err']}, log10 {hw} {bounds['log10_' + hw]}")
    if config.bounds != str(out / "bounds.json"):
        save_bounds(out / "bounds.json", bounds, source)  # now, so a resumed study reuses them
    set_study_bounds(plan.built, bounds, plan.schedulers)  # HyperOpt's (and scalarised ASHA's) scalarisation
    return bounds, source


PLAUSIBILITY_PROBE_N = 8  # fixed-seed configurations that --bounds from another study must fit


def run(plan: Plan, pool: HardwarePool | dict[str, HardwarePool] | None, out: Path) -> tuple[pd.DataFrame, list[str]]:
    """Step 6: every (searcher, seed) run; RuntimeError if none finished."""
    from .study.runs import RunSpec, run_study
    from .trial import cosearch_trial

    config = plan.config
    mf = {} if plan.ladder is None else {"ladder": plan.ladder}  # no ladder: the trainable exactly as before
    trainable = partial(cosearch_trial, spec=plan.spec, hardware=pool, **mf)
    start = time.time()
    spec = RunSpec(trainable, plan.space, config.budget, out, resume=config.resume, schedulers=plan.schedulers,
                   all_rows=plan.ladder is not None, time_budget_s=config.time_budget_s)
    results, failed = run_study(spec, plan.built, parallel_runs=config.parallel_runs)
    cache = ""
    if isinstance(pool, dict):
        cache = "; layer-cost caches: " + ", ".join(
            f"{tier} {st['entries']} entries, {st['hits']} hits, {st['misses']} simulations"
            for tier, st in ((tier, p.stats()) for tier, p in pool.items()))
    elif pool is not None:
        if config.hw_cache:
            pool.save()
        st = pool.stats()
        cache = f"; layer-cost cache: {st['entries']} entries, {st['hits']} hits, {st['misses']} simulations"
    n = results["trial_id"].nunique() if plan.ladder is not None else len(results)
    print(f"\n{n} trials in {time.time() - start:.0f}s{cache}")
    bad = results[~results["feasible"].astype(bool)]
    if len(bad):
        print(f"infeasible or failed: {len(bad)}; reasons: " + "; ".join(bad["error"].str.slice(0, 100).unique()[:3]))
    if len(bad) == len(results):
        top = bad["error"].fillna("feasible=False").str.slice(0, 200).value_counts()
        raise RuntimeError(f"no run produced a feasible result ({len(bad)} of {len(results)} trials infeasible or "
                           f"failed; most common: {top.index[0]} ({top.iloc[0]}x)); check the evaluator settings "
                           "(--trial-timeout, --fidelity, --nats-sss, --bounds)")
    return results, failed


def report(plan: Plan, results: pd.DataFrame, failed: list[str], bounds: dict, source: str, out: Path) -> int:
    """Step 7: tables, rank tests, plots and run info of the finished runs; 1 if any run failed."""
    from .machine import machine
    from .study.outputs import write_outputs

    write_outputs(results, bounds, source, out, plan.evaluator.err_label,
                  meta={"benchmark": plan.config.benchmark, "args": plan.config.record(),
                        "network_evaluator": plan.evaluator.description,
                        "accuracy_source": plan.evaluator.source.name, "err_kind": plan.evaluator.err_kind,
                        "machine": machine(), "failed_runs": failed},
                  reference=plan.reference, constraints=plan.config.constraints)
    if failed:  # the finished runs are written above; the exit code still says that some did not finish
        print(f"\n{len(failed)} of {len(plan.built)} runs failed:\n" + "\n".join(failed), file=sys.stderr)
        return 1
    return 0


def main(benchmark: str, doc: str, argv: list[str] | None = None) -> int:
    from .study import identity

    args = parse_args(benchmark, doc, argv)
    try:
        config = StudyConfig.from_args(benchmark, args)
        plan = prepare(config)
        out = config.out
        ident = identity.identity(config.record(), benchmark, plan.evaluator.source.name)
        if config.resume:
            identity.check_resume(out, ident)
            _note_resumed_runs(plan, out)
        created = claim_out(out)
    except (ValueError, NatsDataError) as e:  # UsageError, SearcherBuildError and the library's own checks
        print(f"error: {e}", file=sys.stderr)
        return 2
    identity.write(out, ident)
    print(textwrap.fill(f"network evaluator: {plan.evaluator.description}", width=100, subsequent_indent="    "))
    print("hardware evaluator: " + (f"measured latency (ms) on {config.device} (HELP / HW-NAS-Bench table)"
                                    if config.device else f"{config.fidelity} (EDP in uJ*ms at 1 GHz)"
                                    if plan.ladder is None or plan.ladder.kind == "epochs"
                                    else f"tiers {plan.ladder.text()} (EDP in uJ*ms at 1 GHz)"))
    if plan.ladder is not None:
        print(f"multi-fidelity: ladder {plan.ladder.text()} (final rung {plan.ladder.label(plan.ladder.levels)}), "
              f"scheduler {config.scheduler}"
              + (f" (grace {config.grace}, reduction factor {config.reduction_factor:g})"
                 if config.scheduler != "none" else "")
              + (f", LOMA lpf_limit {config.lpf_limit}" if "zigzag" in plan.ladder.rungs else ""))
    print(f"study: {', '.join(config.searchers)} x seeds {list(config.seeds)}, budget {config.budget}, "
          f"n_init {config.n_init}, concurrency {config.concurrency}"
          + (f", {config.parallel_runs} runs at once" if config.parallel_runs > 1 else "")
          + (f", at most {config.minutes_per_run:g} min per run" if config.minutes_per_run else ""))
    from .interrupt import STOP, StudyInterrupted

    resume = " ".join([sys.argv[0], *(argv if argv is not None else sys.argv[1:])])
    resume += "" if config.resume else " --resume"
    STOP.hint = f"Continue the study with:\n  python {resume}"
    try:
        pool = start_services(plan)
        STOP.install()  # after Ray's start, so Ctrl-C and SIGTERM reach the study's handler
        _warn_oversubscribed(config)
        try:
            bounds, source = fix_bounds(plan, pool, out)
        except ValueError as e:  # not one feasible configuration, or --bounds that do not fit: say why
            _abandon(created if not config.resume else None)
            print(f"error: {e}", file=sys.stderr)
            return 2
        try:
            results, failed = run(plan, pool, out)
        except RuntimeError as e:  # every run failed, or no feasible result: nothing to tabulate
            print(f"error: {e}", file=sys.stderr)
            return 1
    except (StudyInterrupted, KeyboardInterrupt) as e:
        signame = getattr(e, "signame", "SIGINT")
        done = len(list((out / "runs").glob("*.parquet"))) if (out / "runs").is_dir() else 0
        print(f"\ninterrupted by {signame}: {done} finished run(s) saved in {out / 'runs'}; no table was written. "
              + STOP.hint, file=sys.stderr, flush=True)
        return 130
    finally:
        STOP.uninstall()
    return report(plan, results, failed, bounds, source, out)


def _note_resumed_runs(plan: Plan, out: Path) -> None:
    """Say which runs a resumed study adds and which saved runs it leaves out of its tables."""
    saved = {p.stem for p in (out / "runs").glob("*.parquet")} | {
        p.name for p in (out / "ray_results").glob("*_seed*") if p.is_dir()}
    wanted = {f"{name}_seed{seed}" for name, seed in plan.built}
    added, left = sorted(wanted - saved), sorted(saved - wanted)
    if added:
        print(f"note: --resume adds {len(added)} run(s) to the study: {', '.join(added)}")
    if left:
        print(f"note: --resume leaves {len(left)} saved run(s) out of this report (kept in {out}): {', '.join(left)}")


def _warn_oversubscribed(config: StudyConfig) -> None:
    """Warn when more trials run at once than the machine or cluster has CPUs."""
    import os

    import ray

    want = config.concurrency * config.parallel_runs
    have = (os.cpu_count() or 1) if not config.address else int(ray.cluster_resources().get("CPU", 0))
    if want > have:
        print(f"warning: --concurrency {config.concurrency} x --parallel-runs {config.parallel_runs} = {want} trials "
              f"at once on {have} CPUs: trials share cores, so wall-clock times are not comparable with a study "
              "that does not oversubscribe", file=sys.stderr)


def _abandon(created: Path | None) -> None:
    """Stop Ray and remove the folder or lock file this run created (nothing of a failed start stays)."""
    import ray

    ray.shutdown()
    _remove(created)


def _remove(created: Path | None) -> None:
    import shutil

    if created is not None and created.is_dir():
        shutil.rmtree(created, ignore_errors=True)
    elif created is not None:
        created.unlink(missing_ok=True)
