"""The `customer-chunks` command line.

Errors in the input or the build print one line (`error: ...` naming the file, the
column and the fix) and exit with status 2; they never print a traceback.

Progress goes to standard output, one ``HH:MM:SS message`` line per step (the format
is set once, in :func:`customer_chunks.logs.configure`), followed by the results (where
the warehouse, reports and exports are); standard error carries only the error line.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import textwrap
import time
from datetime import date
from pathlib import Path

from customer_chunks import logs
from customer_chunks.errors import CustomerChunksError, InputError

logger = logging.getLogger(__name__)


def _sources(args: argparse.Namespace):
    from customer_chunks import sources

    if bool(args.data) == bool(args.source):
        raise InputError("give exactly one of --data DIR or --source FILE.yml.")
    if args.data:
        return sources.from_data_dir(Path(args.data))
    return sources.from_source_file(Path(args.source))


def _as_of(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise InputError(f"--as-of {value!r} is not a date. Fix: use YYYY-MM-DD.") from None


def _k(value: object, flag: str) -> None:
    if value is not None and (not isinstance(value, int) or value < 2):
        raise InputError(
            f"{flag} {value}: the number of K-Means segments must be a whole number of at "
            "least 2. Fix: e.g. --k 4, or leave it out to let the run choose k."
        )


def run_vars(args: argparse.Namespace) -> dict:
    """The dbt vars for a run: the ``vars:`` of a ``--source`` file, then each ``--var
    KEY=VALUE`` (which wins), then the ``--k`` and ``--as-of`` aliases (of force_k and
    as_of). Checked here so a bad value fails before loading."""
    from customer_chunks.project import parse_var

    dbt_vars: dict = {}
    for assignment in args.var or []:
        key, value = parse_var(assignment)
        dbt_vars[key] = value
    for flag, key, value in (("--k", "force_k", args.k), ("--as-of", "as_of", args.as_of)):
        if value is None:
            continue
        if key in dbt_vars and dbt_vars[key] != value:
            raise InputError(f"{flag} and --var {key} disagree. Fix: give only one of them.")
        dbt_vars[key] = value
    if getattr(args, "source", None):
        from customer_chunks.sources import source_file_vars

        # the source file's vars suit its data; a --var of the same key wins
        dbt_vars = {**source_file_vars(Path(args.source)), **dbt_vars}
    _k(dbt_vars.get("force_k"), "--k" if args.k is not None else "--var force_k")
    if dbt_vars.get("as_of") is not None:
        dbt_vars["as_of"] = _as_of(str(dbt_vars["as_of"]))
    return dbt_vars


def cmd_run(args: argparse.Namespace) -> int:
    from customer_chunks.run import run

    dbt_vars = run_vars(args)
    sources = _sources(args)
    path = run(
        sources,
        warehouse=Path(args.warehouse),
        as_of=dbt_vars.pop("as_of", None),
        extra_vars=dbt_vars,
        timeout=args.timeout,
        append=args.append,
    )
    print(f"warehouse: {path.resolve()}", flush=True)
    print(f"  query it: duckdb {path} -c 'select * from marts.dim_customers limit 10'", flush=True)
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    from customer_chunks.run import score

    as_of = _as_of(args.as_of) if args.as_of else None
    path = score(
        _sources(args), Path(args.warehouse), Path(args.out), as_of=as_of, changed_only=not args.all
    )
    print(f"scores: {path.resolve()}", flush=True)
    return 0


def cmd_load(args: argparse.Namespace) -> int:
    from customer_chunks.load import load_all

    target = Path(args.warehouse)
    target.parent.mkdir(parents=True, exist_ok=True)
    load_all(target, _sources(args))
    if args.target == "duckdb":
        print(f"raw tables loaded into {target}; now run: dbt build --profiles-dir .", flush=True)
        return 0
    from customer_chunks.engines import SQL_LAYER_EXCLUDE, load_target, pg_env

    counts = load_target(target, args.target, args.url)
    print(
        f"raw tables copied to {args.target}: "
        + ", ".join(f"{t} {n:,}" for t, n in counts.items()),
        flush=True,
    )
    if args.target == "postgres":
        for name, value in pg_env(args.url).items():
            if name != "CUSTOMER_CHUNKS_PG_PASSWORD":
                print(f"  export {name}={value}", flush=True)
    print(
        f"now run: dbt build --profiles-dir . --target {args.target} --exclude {SQL_LAYER_EXCLUDE}",
        flush=True,
    )
    if args.target == "spark":
        print(
            "then the ML step: python -m customer_chunks.spark_score --local, and "
            "dbt build --profiles-dir . --target spark -s tag:spark_ml",
            flush=True,
        )
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from customer_chunks.generate import generate

    counts = generate(
        n_customers=args.customers,
        seed=args.seed,
        out_dir=Path(args.out),
        file_format=args.format,
        progress=logger.info,
    )
    tables = {k: v for k, v in counts.items() if isinstance(v, int)}
    print(
        "wrote " + ", ".join(f"{k}: {v:,} rows" for k, v in tables.items()) + f" to {args.out}",
        flush=True,
    )
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from customer_chunks.export import export_all

    targets = ["parquet", "hyper"] if args.to == "all" else [args.to]
    for target in targets:
        export_all(
            Path(args.warehouse),
            target,
            out=args.out,
            url=args.url,
            schema=args.schema,
        )
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from customer_chunks.reporting import build_reports

    formats = tuple(args.formats.split(","))
    paths = build_reports(Path(args.warehouse), Path(args.out), formats=formats)
    for name, path in paths.items():
        print(f"{name}: {Path(path).resolve()}", flush=True)
    return 0


def vars_help() -> str:
    """The --help text listing every dbt var, its default and its comment, read from
    dbt_project.yml (their one home)."""
    from customer_chunks.project import project_vars

    try:
        declared = project_vars()
    except CustomerChunksError as exc:
        return f"dbt vars: unavailable ({exc})"
    lines = ["dbt vars (--var KEY=VALUE; defaults from dbt_project.yml):"]
    for var in declared.values():
        default = "null" if var.default is None else var.default
        lines.append(f"  {var.name} (default {default})")
        lines += textwrap.wrap(
            var.help, width=78, initial_indent=" " * 6, subsequent_indent=" " * 6
        )
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="customer-chunks",
        description="SQL-native customer segmentation warehouse (dbt + DuckDB + scikit-learn).",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def add_inputs(p: argparse.ArgumentParser) -> None:
        p.add_argument("--data", help="folder with transactions.csv|parquet|jsonl and friends")
        p.add_argument("--source", help="source file (YAML) mapping your files to the contract")
        p.add_argument(
            "--warehouse",
            default="warehouse/customer_chunks.duckdb",
            help="DuckDB file to publish (default: %(default)s)",
        )

    from customer_chunks.run import DBT_TIMEOUT_S

    p_run = sub.add_parser(
        "run",
        help="load inputs, dbt build, publish the warehouse",
        description="Check and load the inputs, run `dbt build` on a new file and publish "
        "it over --warehouse only when every model and test passed.",
        epilog=vars_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_inputs(p_run)
    p_run.add_argument(
        "--var",
        action="append",
        metavar="KEY=VALUE",
        help="set a dbt var (repeatable; the list is below); VALUE is read as YAML",
    )
    p_run.add_argument("--as-of", help="same as --var as_of=YYYY-MM-DD")
    p_run.add_argument("--k", type=int, help="same as --var force_k=N (at least 2)")
    p_run.add_argument(
        "--timeout",
        type=float,
        default=DBT_TIMEOUT_S,
        metavar="SECONDS",
        help="stop `dbt build` after this long (default: %(default).0f)",
    )
    p_run.add_argument(
        "--append",
        action="store_true",
        help="add to the published --warehouse: load only input files it has not loaded "
        "(by content hash; a changed one is an error) and recompute only the customers "
        "they touch; the marts equal a full run's on all the files (README, Appending)",
    )
    p_run.set_defaults(func=cmd_run)

    p_score = sub.add_parser(
        "score",
        help="assign changed customers to the stored segments in SQL, without refitting",
        description="Append the new input files (as run --append: files the warehouse "
        "loaded are skipped by hash) into a scratch warehouse with the changed customers' "
        "rows of --warehouse and its stored fit, recompute the "
        "current features of the customers who changed (those with a row in a new file; "
        "not those whose features move only because as_of moved) and assign each to the "
        "nearest stored segment centre in SQL (marts.segment_scores_touched); the "
        "warehouse is only read. Writes --out (Parquet), one row per changed customer.",
    )
    add_inputs(p_score)
    p_score.add_argument("--as-of", help="reference date (default: the day after the latest order)")
    p_score.add_argument(
        "--out",
        default="output/segment_scores.parquet",
        help="Parquet file to write (default: %(default)s)",
    )
    p_score.add_argument(
        "--all",
        action="store_true",
        help="score every customer of the inputs instead (they replace the warehouse's "
        "inputs in a scratch copy of the warehouse; every feature recomputed)",
    )
    p_score.set_defaults(func=cmd_score)

    p_load = sub.add_parser("load", help="only check and load the inputs into raw.* (for dbt)")
    add_inputs(p_load)
    p_load.add_argument(
        "--target",
        choices=["duckdb", "postgres", "spark"],
        default="duckdb",
        help="also copy raw.* to this dbt target (README, Other engines; default %(default)s)",
    )
    p_load.add_argument("--url", help="for --target postgres: postgresql://user@host:port/db")
    p_load.set_defaults(func=cmd_load)

    p_exp = sub.add_parser("export", help="export the marts for BI tools")
    p_exp.add_argument(
        "--to",
        choices=["parquet", "hyper", "postgres", "all"],
        default="all",
        help="parquet (a file per mart), hyper (Tableau extract), postgres (--url), "
        "all = parquet + hyper (default)",
    )
    p_exp.add_argument("--warehouse", default="warehouse/customer_chunks.duckdb")
    p_exp.add_argument("--out", help="folder (parquet) or .hyper file (default: output/exports)")
    p_exp.add_argument(
        "--url", help="postgresql://user@host:port/db (password from PGPASSWORD or ~/.pgpass)"
    )
    p_exp.add_argument("--schema", help="Postgres schema to publish into (default customer_chunks)")
    p_exp.set_defaults(func=cmd_export)

    p_rep = sub.add_parser("report", help="render the segmentation report and the dashboard")
    p_rep.add_argument("--warehouse", default="warehouse/customer_chunks.duckdb")
    p_rep.add_argument("--out", default="output/reports")
    p_rep.add_argument("--formats", default="html,pdf", help="comma list of html,pdf")
    p_rep.set_defaults(func=cmd_report)

    p_gen = sub.add_parser("generate", help="write synthetic demo data")
    p_gen.add_argument("--customers", type=int, default=5000)
    p_gen.add_argument("--seed", type=int, default=42)
    p_gen.add_argument("--out", default="data/demo")
    p_gen.add_argument("--format", choices=["parquet", "csv"], default="parquet")
    p_gen.set_defaults(func=cmd_generate)
    return parser


def _terminated(signum, frame) -> None:
    raise KeyboardInterrupt  # unwinds like Ctrl-C: children killed, build file removed


def _save_trace() -> Path:
    """Write the current exception's traceback to logs/customer-chunks-error.log."""
    import traceback

    path = Path("logs") / "customer-chunks-error.log"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(traceback.format_exc(), encoding="utf-8")
    except OSError:  # read-only folder: the temp dir instead
        import tempfile

        path = Path(tempfile.gettempdir()) / "customer-chunks-error.log"
        path.write_text(traceback.format_exc(), encoding="utf-8")
    return path.resolve()


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logs.configure()
    if sys.platform != "win32":
        signal.signal(signal.SIGTERM, _terminated)
    started = time.monotonic()
    try:
        code = args.func(args)
    except CustomerChunksError as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr, flush=True)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted; the published warehouse was not changed.", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - a bug: one line for the user, the trace on disk
        trace = _save_trace()
        first = " ".join(str(exc).split())[:300]
        print(
            f"error: unexpected {type(exc).__name__} in `customer-chunks {args.command}`: {first} "
            f"(a bug, not your input; the published warehouse was not changed). "
            f"Fix: report it with the trace in {trace}.",
            file=sys.stderr,
            flush=True,
        )
        return 3
    logger.info("%s done in %.1f s", args.command, time.monotonic() - started)
    return code


if __name__ == "__main__":
    sys.exit(main())
