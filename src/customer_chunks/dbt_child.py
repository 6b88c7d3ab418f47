"""A `dbt build` that parses the project while its caller is still preparing the database.

``python -m customer_chunks.dbt_child ARGS`` (ARGS: the JSON list of dbt's arguments,
the global flags, then ``build`` and its flags) imports dbt and parses the project with
the same flags (`dbt parse`), then waits for one line on standard input: ``go`` runs the
build on the parsed manifest; anything else, or the end of the input, exits with status
3 before dbt has opened the database. Exit status as the dbt command line's: 0 passed,
1 a node failed, 2 dbt itself failed.

`customer-chunks score` (customer_chunks.run.dbt_build with ``prepare``) builds its scratch
warehouse meanwhile: importing dbt and parsing (about 3 s even when dbt reuses its saved
parse) then no longer adds to score's time.
"""

from __future__ import annotations

import json
import sys

SUBCOMMAND = "build"
NOT_STARTED = 3


def main(argv: list[str]) -> int:
    args = json.loads(argv[0])
    at = args.index(SUBCOMMAND)
    build_flags = args[at + 1 :]
    parse_flags = []  # the flags that decide what the project is: parse takes these
    for i, flag in enumerate(build_flags):
        if flag in ("--project-dir", "--profiles-dir", "--vars"):
            parse_flags += build_flags[i : i + 2]
    from dbt.cli.main import dbtRunner

    parsed = dbtRunner().invoke([*args[:at], "parse", *parse_flags])
    if not parsed.success:
        return 2
    if sys.stdin.readline().strip() != "go":
        return NOT_STARTED
    result = dbtRunner(manifest=parsed.result).invoke(args)
    if result.success:
        return 0
    return 2 if result.exception is not None else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
