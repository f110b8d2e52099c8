"""``nlp-bench compare "some text"``: the same text to every enabled target at once.

On the local default it starts the targets it needs (a fresh, cold deployment each), sends the
text to all of them in parallel through the backoff client, prints what each answered and what
it took, and tears them down. ``--endpoint NAME=URL`` asks an already running deployment
instead of starting one. The answers are stored in DuckDB where the store has a
``live_comparisons`` table (docs/report.md proposes it); ``--json`` prints them as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from nlp_bench_pipeline.bench.plan import BenchmarkPlan
from nlp_bench_pipeline.core.deployments import DeploymentSpec
from nlp_bench_pipeline.core.records import ALL_TARGETS
from nlp_bench_pipeline.lib.tables import format_value
from nlp_bench_pipeline.loadgen.scenarios import PROFILES
from nlp_bench_pipeline.settings import get_pipeline_settings
from nlp_bench_pipeline.targets.registry import TargetUnavailable, create_target

if TYPE_CHECKING:
    from nlp_bench_pipeline.bench.comparison import TargetAnswer
    from nlp_bench_pipeline.targets.base import Target

PROG = "nlp-bench compare"
HEADINGS = {
    "target": "target",
    "label": "label",
    "score": "score",
    "first": "first attempt",
    "attempts": "attempts",
    "time_to_first_success_ms": "to first success ms",
    "environment_id": "environment",
    "start": "start",
}


class UsageError(ValueError):
    """A bad option: one line, exit code 2."""


def register(subparsers: argparse._SubParsersAction) -> None:
    compare = subparsers.add_parser(
        "compare", help="send one text to every enabled target in parallel", description=__doc__
    )
    compare.add_argument("text", help="the text to classify")
    compare.add_argument("--targets", help="comma-separated; default NLP_BENCH_TARGETS")
    compare.add_argument("--model", help="an NLP_BENCH_MODEL value; default NLP_BENCH_MODEL")
    compare.add_argument("--profile", choices=PROFILES, help="default NLP_BENCH_PROFILE")
    compare.add_argument(
        "--platform",
        default="{}",
        help='JSON, platform knobs per target: {"local-lambda": {"integration_timeout_s": 5}}',
    )
    compare.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment of the service (e.g. NLP_BENCH_FAULT_LOAD_DELAY_S=3); repeat",
    )
    compare.add_argument(
        "--endpoint",
        action="append",
        default=[],
        metavar="TARGET=URL",
        help="ask a running deployment of TARGET at URL instead of starting one; repeat",
    )
    compare.add_argument("--json", action="store_true", help="print the answers as JSON")
    compare.set_defaults(handler=compare_command)


def compare_command(args: argparse.Namespace) -> int:
    from nlp_bench_pipeline.bench.comparison import run_live_comparison  # httpx, the client
    from nlp_bench_pipeline.store.database import MetricStore

    settings = get_pipeline_settings()
    try:
        plan, env, endpoints = _options(args, settings)
    except UsageError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2

    def spec_for(name: str) -> DeploymentSpec:
        spec = plan.deployment_spec(name)  # type: ignore[arg-type]
        return spec.model_copy(update={"env": {**spec.env, **env}})

    def create(name: str) -> Target:
        return create_target(name, work_dir=settings.work_dir, aws_credentials=_aws(name))  # type: ignore[arg-type]

    try:
        result = run_live_comparison(
            args.text,
            plan.targets,
            create=create,
            spec_for=spec_for,
            store=MetricStore(settings.db),
            endpoints=endpoints,
            progress=lambda line: print(f"{PROG}: {line}", file=sys.stderr, flush=True),
        )
    except (TargetUnavailable, ValueError) as exc:  # no such target here, a knob it refused
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps([a.model_dump(mode="json") for a in result.answers], indent=1))
    else:
        print_answers(result.answers)
        stored = "stored in DuckDB" if result.stored else "not stored (no live_comparisons table)"
        print(f"\ncomparison {result.comparison_id}: {stored}")
    return 0 if all(a.ok for a in result.answers) else 1


def _options(
    args: argparse.Namespace, settings: Any
) -> tuple[BenchmarkPlan, dict[str, str], dict[str, str]]:
    if not args.text.strip():
        raise UsageError("the text is empty: give the text to classify")
    targets = settings.split(args.targets or settings.targets)
    unknown = sorted(set(targets) - set(ALL_TARGETS))
    if unknown or not targets:
        raise UsageError(f"--targets: unknown {unknown or 'none given'}; choose from {ALL_TARGETS}")
    try:
        overrides = json.loads(args.platform)
    except json.JSONDecodeError as exc:
        raise UsageError(f"--platform is not JSON: {exc.msg} at character {exc.pos}") from exc
    if not isinstance(overrides, dict):
        raise UsageError("--platform must be a JSON object: target → knobs")
    env = _pairs(args.env, "--env")
    endpoints = _pairs(args.endpoint, "--endpoint")
    stray = sorted(set(endpoints) - set(targets))
    if stray:
        raise UsageError(f"--endpoint names {stray}, which --targets does not include")
    try:
        plan = BenchmarkPlan(
            targets=targets,
            profile=args.profile or settings.profile,
            model=args.model or settings.model,
            platform_overrides=overrides,
        )
        for name in targets:
            plan.deployment_spec(name)
    except (ValidationError, ValueError) as exc:
        raise UsageError(str(exc).splitlines()[-1] if str(exc) else repr(exc)) from exc
    return plan, env, endpoints


def _pairs(values: list[str], option: str) -> dict[str, str]:
    pairs = {}
    for value in values:
        name, sep, rest = value.partition("=")
        if not sep or not name or not rest:
            raise UsageError(f"{option} {value!r}: expected NAME=VALUE")
        pairs[name] = rest
    return pairs


def _aws(name: str) -> bool:
    """Whether boto3 finds credentials, for an AWS target (local ones need none)."""
    if not name.startswith("aws-"):
        return False
    import boto3

    return boto3.Session().get_credentials() is not None


def print_answers(answers: list[TargetAnswer]) -> None:
    rows = [list(HEADINGS.values())]
    for answer in answers:
        first = (
            f"{answer.first_attempt_ms:,.0f} ms {answer.first_status or '–'} {answer.first_label}"
        )
        values = {
            **answer.model_dump(),
            "first": first,
            "score": None if answer.score is None else round(answer.score, 4),
            "start": answer.start,
        }
        rows.append([format_value(values.get(key), digits=1) for key in HEADINGS])
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADINGS))]
    for n, row in enumerate(rows):
        print("  ".join(value.ljust(width) for value, width in zip(row, widths, strict=True)))
        if n == 0:
            print("  ".join("-" * width for width in widths))
    for answer in answers:
        if answer.error:
            print(f"{answer.target}: {answer.error}")
