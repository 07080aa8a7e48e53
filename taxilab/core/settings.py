"""The lab's settings: one typed object, read once. The only module that reads environment variables.
Why: docs/adr/0012-layout-and-layers.md.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Literal, get_args

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]
Profile = Literal["local", "compose", "aws"]
SERVICES = ("s3", "glue", "cloudwatch", "sns", "sqs")
# The schema the SQL files name; warehouse_schema replaces it where statements are prepared (ADR 0012).
CANONICAL_SCHEMA = "taxi"
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def check_schema(name: object) -> str:
    """`name` if it is a plain schema identifier (lower-case ASCII letters, digits, _; not pg_*), else an
    error naming the setting."""
    if not isinstance(name, str) or not _SCHEMA_NAME.fullmatch(name) or name.startswith("pg_"):
        raise ValueError(
            f"warehouse_schema (TAXILAB_WAREHOUSE_SCHEMA) must be a plain identifier: lower-case ASCII "
            f"letters, digits and _, starting with a letter or _, at most 63 characters, not pg_*; got {name!r}"
        )
    return name


class SparkSettings(BaseModel):
    master: str = "local[*]"
    driver_memory: str = "6g"
    shuffle_partitions: int = 8
    # Connector jars matching pyspark 3.5's bundled Hadoop (hadoop-client-api 3.3.4).
    hadoop_aws_version: str = "3.3.4"
    aws_sdk_bundle_version: str = "1.12.262"
    maven_repo: str = "https://repo1.maven.org/maven2"
    extra_conf: dict[str, str] = Field(default_factory=dict)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TAXILAB_", env_nested_delimiter="__", extra="ignore")

    profile: Profile = "local"
    region: str = "us-east-1"
    bucket: str = "taxilab-lake"
    dataset: str = "nyc_taxi"
    # Glue Data Catalog databases, one per zone.
    catalog_databases: dict[str, str] = Field(
        default_factory=lambda: {
            "raw": "taxilab_raw",
            "staging": "taxilab_staging",
            "quarantine": "taxilab_quarantine",
            "curated": "taxilab_curated",
        }
    )
    # Per-service endpoint URLs; None means the AWS default (aws profile) or discovered (local).
    endpoints: dict[str, str | None] = Field(default_factory=dict)
    # Credentials for emulators only; the aws profile uses the default AWS credential chain.
    emulator_access_key: str = "testing"
    emulator_secret_key: str = "testing"
    # The product's warehouse connection (the lab's least-privilege app role on the local profile) and the
    # setup connection (the superuser: roles, grants, the Spectrum scan function). On the local profile both
    # carry no password: libpq reads it from the 0600 passfile under <state_dir>/pg (docs/adr/0017).
    warehouse_dsn: str | None = None
    warehouse_admin_dsn: str | None = None
    warehouse_app_role: str = "taxilab_app"
    # COPY emulation: a compressed object whose expansion passes this many bytes is refused (gzip bomb).
    copy_max_expanded_bytes: int = 2 * 1024**3
    # The warehouse schema the product's SQL runs in (the files say taxi; rewritten on their AST, ADR 0012).
    warehouse_schema: str = CANONICAL_SCHEMA
    # compose profile: the docker-compose project whose containers are the services and the job runner
    compose_project: str = "taxilab"
    state_dir: Path = PROJECT_ROOT / ".lab"
    shared_dir: Path = PROJECT_ROOT.parent / "shared"
    zone_lookup: Path | None = None
    # Amazon Redshift through the Data API (aws profile; taxilab.warehouse.data_api). Serverless
    # (workgroup) or provisioned (cluster id + db user); the secret ARN is an ARN, never a password.
    redshift_workgroup: str | None = None
    redshift_cluster_id: str | None = None
    redshift_database: str = "dev"
    redshift_db_user: str | None = None
    redshift_secret_arn: str | None = None
    redshift_iam_role: str | None = None  # substituted into COPY/UNLOAD's IAM_ROLE on the aws path
    redshift_statement_timeout_s: float = 300.0
    spark: SparkSettings = Field(default_factory=SparkSettings)
    log_level: str = "INFO"
    # Robustness tests only: SIGKILL this process at the named point (taxilab/faults.py); unset = never.
    fault_kill_at: str | None = None

    @field_validator("warehouse_schema")
    @classmethod
    def _plain_schema(cls, value: str) -> str:
        return check_schema(value)

    # ---- derived paths -------------------------------------------------------------------
    @property
    def zone_lookup_path(self) -> Path:
        return self.zone_lookup or self.shared_dir / "data" / "taxi_zone_lookup.csv"

    @property
    def services_file(self) -> Path:
        return self.state_dir / "services.json"

    @property
    def cache_dir(self) -> Path:
        return self.state_dir / "cache"

    @property
    def runs_dir(self) -> Path:
        return self.state_dir / "runs"

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def uses_emulator(self) -> bool:
        return self.profile != "aws"

    def endpoint(self, service: str) -> str | None:
        """Endpoint URL for an AWS service under this profile (None = AWS's own)."""
        return self.endpoints.get(service)

    def with_endpoints(
        self,
        endpoints: Mapping[str, str | None],
        warehouse_dsn: str | None,
        warehouse_admin_dsn: str | None = None,
    ) -> Settings:
        """A copy with the endpoints of (re)started services filled in; they replace stale ones."""
        merged = {**self.endpoints, **endpoints}
        return self.model_copy(
            update={
                "endpoints": merged,
                "warehouse_dsn": warehouse_dsn or self.warehouse_dsn,
                "warehouse_admin_dsn": warehouse_admin_dsn or self.warehouse_admin_dsn,
            }
        )


_PROFILE_DEFAULTS: dict[str, dict] = {
    "local": {},
    # docker-compose.yml publishes these ports on 127.0.0.1.
    "compose": {
        "endpoints": {
            "s3": "http://127.0.0.1:4566",
            "sns": "http://127.0.0.1:4566",
            "sqs": "http://127.0.0.1:4566",
            "cloudwatch": "http://127.0.0.1:4566",
            "glue": "http://127.0.0.1:5000",
        },
        "warehouse_dsn": "postgresql://taxilab:taxilab@127.0.0.1:5439/taxilab",
    },
    "aws": {"endpoints": {s: None for s in SERVICES}},
}


def load_settings(**overrides) -> Settings:
    """Read settings: profile defaults < environment (TAXILAB_*) < explicit overrides.

    For the local profile, endpoints of running embedded services are filled in from the state
    file when it exists (emulation.services writes it when it starts them).
    """
    base = Settings(**overrides)
    defaults = _PROFILE_DEFAULTS[base.profile]
    if defaults:
        update = {}
        for key, value in defaults.items():
            env_set = f"TAXILAB_{key.upper()}" in os.environ or key in overrides
            if not env_set:
                update[key] = value
        base = base.model_copy(update=update)
    if base.profile == "local" and base.services_file.exists():
        try:
            state = json.loads(base.services_file.read_text())
            base = base.with_endpoints(
                state.get("endpoints", {}), state.get("warehouse_dsn"), state.get("warehouse_admin_dsn")
            )
        except (OSError, ValueError):
            pass  # a corrupt state file is treated as "no services"; services.status() reports it
    return base


def with_profile(settings: Settings, profile: str) -> Settings:
    """The same settings switched to another profile, with that profile's defaults (e.g. AWS's own
    endpoints for aws): for a Glue job, whose profile comes as a job argument, not from the environment."""
    if profile not in get_args(Profile):
        raise ValueError(f"profile must be one of {', '.join(get_args(Profile))}, got {profile!r}")
    if profile == settings.profile:
        return settings
    return settings.model_copy(update={"profile": profile, **_PROFILE_DEFAULTS[profile]})


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()


def environ_for_children(settings: Settings) -> dict[str, str]:
    """Environment for subprocesses the lab starts (the moto server, Spark JVM)."""
    env = dict(os.environ)
    env.setdefault("AWS_DEFAULT_REGION", settings.region)
    if settings.uses_emulator:
        env["AWS_ACCESS_KEY_ID"] = settings.emulator_access_key
        env["AWS_SECRET_ACCESS_KEY"] = settings.emulator_secret_key
    return env
