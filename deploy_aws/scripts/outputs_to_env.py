"""`terraform output -json` -> the aws profile's settings file (.lab/aws.env), run by `make deploy-env`.

Each line is TAXILAB_<FIELD>=<value>, the environment variables taxilab.core.settings reads; the Makefile
includes the file when PROFILE=aws (and `set -a; . .lab/aws.env` works in a shell), so
`make pipeline PROFILE=aws` runs on what was deployed. Values are checked before they are written: only
characters that are inert in both make and sh (no spaces, quotes, $, #, backslashes), so nothing from the
outputs can become code.

    terraform -chdir=deploy_aws output -json | python deploy_aws/scripts/outputs_to_env.py --out .lab/aws.env
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from pathlib import Path

# terraform output name -> settings field (environment variable TAXILAB_<FIELD>)
FIELDS = {
    "region": "REGION",
    "bucket": "BUCKET",
    "dataset": "DATASET",
    "warehouse_schema": "WAREHOUSE_SCHEMA",
    "redshift_workgroup": "REDSHIFT_WORKGROUP",
    "redshift_database": "REDSHIFT_DATABASE",
    "redshift_secret_arn": "REDSHIFT_SECRET_ARN",
    "redshift_iam_role": "REDSHIFT_IAM_ROLE",
}
# a map output -> one nested variable per key (TAXILAB_CATALOG_DATABASES__RAW=...), env_nested_delimiter "__"
MAP_FIELDS = {"catalog_databases": "CATALOG_DATABASES"}
ZONES = ("raw", "staging", "quarantine", "curated")
SAFE = re.compile(
    r"^[A-Za-z0-9_.:/@+=,!-]{1,2048}$"
)  # "!": Redshift-managed secret names (redshift!ns-admin)


class OutputsError(ValueError):
    pass


def _value(outputs: dict, name: str):
    if name not in outputs:
        raise OutputsError(
            f"terraform output {name!r} is missing (is this the deploy_aws state? run make deploy first)"
        )
    entry = outputs[name]
    if not isinstance(entry, dict) or "value" not in entry:
        raise OutputsError(
            f"terraform output {name!r}: expected an object with a 'value' (terraform output -json)"
        )
    return entry["value"]


def _checked(name: str, value) -> str:
    if not isinstance(value, str) or not SAFE.match(value):
        raise OutputsError(
            f"terraform output {name!r}: {value!r} is not a plain value (letters, digits and _.:/@+=,!- only)"
        )
    return value


def env_lines(outputs: dict) -> list[str]:
    """The settings file's lines for the given `terraform output -json` document."""
    if not isinstance(outputs, dict):
        raise OutputsError("terraform outputs: expected a JSON object (terraform output -json)")
    lines = ["TAXILAB_PROFILE=aws"]
    for name, field in FIELDS.items():
        lines.append(f"TAXILAB_{field}={_checked(name, _value(outputs, name))}")
    for name, field in MAP_FIELDS.items():
        value = _value(outputs, name)
        if not isinstance(value, dict) or set(value) != set(ZONES):
            raise OutputsError(
                f"terraform output {name!r}: expected one entry per zone {ZONES}, got {value!r}"
            )
        for zone in ZONES:
            lines.append(f"TAXILAB_{field}__{zone.upper()}={_checked(f'{name}.{zone}', value[zone])}")
    return lines


def write(lines: list[str], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    text = (
        "# written by make deploy-env from terraform output -json (deploy_aws/); do not edit\n"
        + "\n".join(lines)
        + "\n"
    )
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=".aws.env.")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--outputs", type=Path, help="file with `terraform output -json` (default: standard input)"
    )
    ap.add_argument("--out", type=Path, default=Path(".lab/aws.env"))
    args = ap.parse_args(argv)
    try:
        raw = args.outputs.read_text() if args.outputs else sys.stdin.read()
        outputs = json.loads(raw)
        lines = env_lines(outputs)
    except (OSError, ValueError) as e:  # OutputsError is a ValueError; so is bad JSON
        print(f"deploy-env: {e}", file=sys.stderr)
        return 2
    write(lines, args.out)
    print(f"deploy-env: wrote {len(lines)} settings to {args.out} (make pipeline PROFILE=aws reads it)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
