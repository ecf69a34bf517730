"""Run a search strategy on a tabular benchmark many times and write the trajectories.

Every query is charged (simulated seconds from the ground truth), the answer of a run is the
queried architecture with the best search signal, and the file records the signal, report metric,
cost, seeds and data hashes (format: nasbench_tools.search.trajectory). Examples:

  nbt search --strategy rea --protocol nb201-cifar10 --repeats 500 --seed 0 -o rea.npz
  nbt search --strategy reinforce --protocol nb201-cifar10 --budget 12000s --option lr=0.01 \\
      --repeats 500 --seed 0 -o reinforce.npz
  nbt search --strategy weaknas --protocol weaknas-nb201-cifar10 --budget 1000 --repeats 100 \\
      --seed 0 -o weaknas.npz
  nbt search --strategy random --signal nb201,cifar100,x-valid,12 \\
      --report nb201,cifar100,ori-test,200 --cost nb201,cifar100,12 --budget 40000s \\
      --repeats 500 --seed 0 -o rs-c100.npz
  nbt search --strategy reinforce --protocol nb201-cifar10 --reward-cost computed,cifar10,,,flops \\
      --reward-target 100 --repeats 100 --seed 0 -o mnas.npz
  nbt search --list

--budget is a number of queries ('150', '150q') or of simulated seconds ('12000s'); without it
the protocol's. --seed has no default. Interrupted runs resume from <output>.parts/.
--ray [ADDRESS] runs the repeats as Ray tasks (on this machine, or a cluster's) into the same
file.
"""

from __future__ import annotations

import argparse
import json
import sys

from ..search import (
    PREDICTORS,
    PROTOCOLS,
    SAMPLERS,
    STRATEGIES,
    Budget,
    CostSpec,
    Measure,
    MnasNetReward,
    Oracle,
    SearchError,
    final_result,
    get_protocol,
    run_searches,
)
from ._common import add_ray_arguments, check_ray_arguments

NAME = "search"
HELP = "run a search strategy on a benchmark's ground truth; write its trajectories"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument(
        "--list",
        action="store_true",
        help="list strategies, presets, protocols, predictors, samplers",
    )
    p.add_argument("--strategy", help="a registered strategy (see --list)")
    p.add_argument(
        "--preset", help="a preset of the strategy (rea: autodl, naslib; weaknas: paper, paper-ei)"
    )
    p.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a strategy option (VALUE read as JSON when it parses: 0.1, true, null), repeatable",
    )
    p.add_argument(
        "--protocol", help="a named protocol (see --list) giving signal, report, cost, budget"
    )
    p.add_argument(
        "--data",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="replace a protocol's ground truth by a store or official file (nb201=store.h5)",
    )
    p.add_argument("--signal", help="TARGET,DATASET,SPLIT,EPOCHS[,METRIC] (instead of --protocol)")
    p.add_argument("--report", help="TARGET,DATASET,SPLIT,EPOCHS[,METRIC] (instead of --protocol)")
    p.add_argument(
        "--cost", help="TARGET,DATASET,EPOCHS: the training-time column (default: the signal's)"
    )
    p.add_argument("--unit-cost", action="store_true", help="charge 1 per query (no time column)")
    p.add_argument("--seed-policy", help="signal seeds: mean, draw, draw-per-arch, or a seed label")
    p.add_argument(
        "--reward-cost", help="MnasNet reward: the cost column TARGET,DATASET,SPLIT,EPOCHS,METRIC"
    )
    p.add_argument(
        "--reward-target", type=float, help="MnasNet reward: T, in the cost column's unit"
    )
    p.add_argument(
        "--reward-alpha", type=float, default=-0.07, help="MnasNet w where cost <= T (-0.07)"
    )
    p.add_argument(
        "--reward-beta", type=float, default=-0.07, help="MnasNet w where cost > T (-0.07)"
    )
    p.add_argument("--budget", help="N queries ('150', '150q') or S simulated seconds ('12000s')")
    p.add_argument("--repeats", type=int, help="independent runs")
    p.add_argument("--seed", type=int, help="base seed (required; run i gets its own seed from it)")
    p.add_argument("--label", help="what to call these runs in tables and figures")
    p.add_argument(
        "--no-track", action="store_true", help="skip the per-iteration predictor scores"
    )
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("-o", "--output", help="trajectory file to write (.npz)")
    add_ray_arguments(p)


def run(args) -> int:
    if args.list:
        _print_lists()
        return 0
    missing = [n for n in ("strategy", "repeats", "seed", "output") if getattr(args, n) is None]
    if missing:
        raise SearchError(f"missing required argument(s): {', '.join('--' + m for m in missing)}")
    check_ray_arguments(args)
    oracle, budget = _oracle_and_budget(args)
    print(oracle.describe(), file=sys.stderr)
    t = run_searches(
        oracle,
        args.strategy,
        budget,
        repeats=args.repeats,
        seed=args.seed,
        preset=args.preset,
        options=_options(args.option),
        track_predictor=not args.no_track,
        out=args.output,
        overwrite=args.overwrite,
        progress=not args.no_progress,
        label=args.label,
        command=["nbt", "search", *sys.argv[2:]] if sys.argv[1:2] == ["search"] else None,
        ray=args.ray,
        max_retries=args.ray_retries,
    )
    f = final_result(t, n_boot=1000, seed=0)
    print(
        f"{t.label}: {t.n_runs} runs, {budget.describe()}; report metric of the answers "
        f"{f.mean:.3f} +- {f.std:.3f} (std; 95% CI of the mean {f.low:.3f}..{f.high:.3f}); "
        f"optimum {f.optimum:.3f}, mean regret {f.regret_mean:.3f}; {f.queries_mean:.1f} "
        f"queries per run; wrote {args.output}"
    )
    return 0


def _oracle_and_budget(args) -> tuple[Oracle, Budget]:
    objective = None
    if args.reward_cost or args.reward_target is not None:
        if not (args.reward_cost and args.reward_target is not None):
            raise SearchError("the MnasNet reward needs both --reward-cost and --reward-target")
        objective = MnasNetReward(
            Measure.parse(args.reward_cost), args.reward_target, args.reward_alpha, args.reward_beta
        )
    seed_policy = _seed_policy(args.seed_policy)
    data = _pairs(args.data, "--data")
    if args.protocol:
        if args.signal or args.report or args.cost or args.unit_cost:
            raise SearchError("give --protocol or --signal/--report/--cost, not both")
        proto = get_protocol(args.protocol)
        oracle = proto.build(data=data, seed_policy=seed_policy, objective=objective)
        budget = Budget.parse(args.budget) if args.budget else proto.budget
        return oracle, budget
    if data:
        raise SearchError(
            "--data replaces a protocol's ground truths; name targets in --signal etc."
        )
    if not (args.signal and args.report and args.budget):
        raise SearchError("without --protocol, give --signal, --report and --budget")
    signal = Measure.parse(args.signal, seed=seed_policy or "mean")
    report = Measure.parse(args.report)
    cost = None
    if args.unit_cost:
        cost = CostSpec(unit=True)
    elif args.cost:
        parts = [x.strip() for x in args.cost.split(",")]
        if len(parts) != 3:
            raise SearchError(f"--cost is TARGET,DATASET,EPOCHS, got {args.cost!r}")
        try:
            epochs = int(parts[2]) if parts[2] else None
        except ValueError:
            raise SearchError(f"--cost EPOCHS must be an integer, got {parts[2]!r}") from None
        cost = CostSpec(parts[0], parts[1], epochs)
    return Oracle.build(signal, report, cost, objective=objective), Budget.parse(args.budget)


def _seed_policy(text):
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        return text


def _pairs(items: list[str], flag: str) -> dict:
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise SearchError(f"{flag} takes NAME=VALUE, got {item!r}")
        out[name.strip()] = value.strip()
    return out


def _options(items: list[str]) -> dict:
    out = {}
    for name, text in _pairs(items, "--option").items():
        try:
            out[name] = json.loads(text)
        except json.JSONDecodeError:
            out[name] = text
    return out


def _print_lists() -> None:
    print("strategies (presets):")
    for name, cls in STRATEGIES.items():
        presets = ", ".join(sorted(cls.presets)) or "-"
        opts = ", ".join(f"{k}={v!r}" for k, v in cls.defaults.items())
        print(f"  {name:14s} ({presets}) options: {opts}")
    print("protocols:")
    for name, p in PROTOCOLS.items():
        print(f"  {name:24s} {p.description}")
    print("predictors:")
    for name, p in PREDICTORS.items():
        print(f"  {name:10s} {p.config}")
    print(
        "samplers: "
        + ", ".join(f"{n}{' (' + s.space + ')' if s.space else ''}" for n, s in SAMPLERS.items())
    )
