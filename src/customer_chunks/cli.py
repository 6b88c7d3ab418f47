"""The `customer-chunks` command line.

Errors in the input or the build print one line (`error: ...` naming the file, the
column and the fix) and exit with status 2; they never print a traceback.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from customer_chunks.errors import CustomerChunksError, InputError


def _log(message: str) -> None:
    print(message, flush=True)


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


def cmd_run(args: argparse.Namespace) -> int:
    from customer_chunks.run import run

    extra = {}
    if args.k is not None:
        extra["force_k"] = args.k
    path = run(
        _sources(args),
        warehouse=Path(args.warehouse),
        as_of=_as_of(args.as_of),
        extra_vars=extra,
        log=_log,
    )
    _log(f"warehouse: {path.resolve()}")
    _log(f"  query it: duckdb {path} -c 'select * from marts.dim_customers limit 10'")
    return 0


def cmd_load(args: argparse.Namespace) -> int:
    from customer_chunks.load import load_all

    target = Path(args.warehouse)
    target.parent.mkdir(parents=True, exist_ok=True)
    load_all(target, _sources(args), log=_log)
    if args.target == "duckdb":
        _log(f"raw tables loaded into {target}; now run: dbt build --profiles-dir .")
        return 0
    from customer_chunks.engines import SQL_LAYER_EXCLUDE, load_target, pg_env

    counts = load_target(target, args.target, args.url)
    _log(
        f"raw tables copied to {args.target}: " + ", ".join(f"{t} {n:,}" for t, n in counts.items())
    )
    if args.target == "postgres":
        for name, value in pg_env(args.url).items():
            if name != "CUSTOMER_CHUNKS_PG_PASSWORD":
                _log(f"  export {name}={value}")
    _log(
        f"now run: dbt build --profiles-dir . --target {args.target} --exclude {SQL_LAYER_EXCLUDE}"
    )
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from customer_chunks.generate import generate

    counts = generate(
        n_customers=args.customers,
        seed=args.seed,
        out_dir=Path(args.out),
        file_format=args.format,
        progress=_log,
    )
    tables = {k: v for k, v in counts.items() if isinstance(v, int)}
    _log("wrote " + ", ".join(f"{k}: {v:,} rows" for k, v in tables.items()) + f" to {args.out}")
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
    paths = build_reports(Path(args.warehouse), Path(args.out), formats)
    for name, path in paths.items():
        _log(f"{name}: {Path(path).resolve()}")
    return 0


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

    p_run = sub.add_parser("run", help="load inputs, dbt build, publish the warehouse")
    add_inputs(p_run)
    p_run.add_argument("--as-of", help="reference date YYYY-MM-DD (default: day after last order)")
    p_run.add_argument("--k", type=int, help="force the number of K-Means segments")
    p_run.set_defaults(func=cmd_run)

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


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except CustomerChunksError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted; the published warehouse was not changed.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
