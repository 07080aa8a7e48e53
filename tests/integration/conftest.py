"""Session fixtures: the embedded services and Spark are started once for all integration tests.

The tests get their own state dir (services, lake, warehouse data) under pytest's tmp dir and their own
bucket, so they never touch a developer's running lab; the S3A jar cache in .lab/jars is shared.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import psycopg
import pytest

from emulation import services
from taxilab.core.settings import PROJECT_ROOT, load_settings

SHARED = PROJECT_ROOT.parent / "shared"
SAMPLE = SHARED / "data" / "samples" / "yellow_tripdata_2024-02_sample50k.parquet"


@pytest.fixture(scope="session")
def lab_settings(request):
    # Not under pytest's basetemp: every pytest start resets /tmp/pytest-of-<user> to mode 0700, which would
    # cut the PostgreSQL server (its own OS user when run as root) off from its data dir mid-session if
    # another pytest ran meanwhile. Kept after a failing session, for its logs.
    state = Path(tempfile.mkdtemp(prefix="taxilab-it-state-"))
    settings = load_settings(state_dir=state, bucket="taxilab-it", shared_dir=SHARED)
    live = services.ensure_running(settings)
    # warehouse_dsn: the lab's app role (what the product uses); warehouse_admin_dsn: the setup superuser.
    yield settings.with_endpoints(live.endpoints, live.warehouse_dsn, live.warehouse_admin_dsn)
    services.stop(settings)
    if request.session.testsfailed:
        print(f"\nintegration lab state kept for inspection: {state}")
    else:
        shutil.rmtree(state, ignore_errors=True)


@pytest.fixture(scope="session")
def spark(lab_settings):
    from emulation.spark import get_session

    session = get_session(lab_settings)
    yield session
    session.stop()


@pytest.fixture()
def pg(lab_settings):
    with psycopg.connect(lab_settings.warehouse_dsn) as conn:
        yield conn


@pytest.fixture(scope="session")
def sample_file() -> Path:
    if not SAMPLE.exists():
        pytest.fail(f"the genuine TLC sample is missing: {SAMPLE} (tests read ../shared beside the project)")
    return SAMPLE


@pytest.fixture(scope="session")
def pg_conn_factory(lab_settings):
    """Connections (as the lab's app role) to a scratch database on the lab's PostgreSQL, for tests that
    rebuild the schema (kept apart from the database the pipeline tests load). Created by the superuser,
    with the grants setup gives the app role on the lab's own database (emulation/pg_auth.py)."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    from emulation import pg_auth

    with psycopg.connect(lab_settings.warehouse_admin_dsn, autocommit=True) as admin:
        admin.execute("DROP DATABASE IF EXISTS taxilab_scratch")
        admin.execute("CREATE DATABASE taxilab_scratch")
    admin_scratch = make_conninfo(
        **{**conninfo_to_dict(lab_settings.warehouse_admin_dsn), "dbname": "taxilab_scratch"}
    )
    with psycopg.connect(admin_scratch, autocommit=True) as admin:
        pg_auth.grant_database(admin, "taxilab_scratch", lab_settings.warehouse_app_role)
    dsn = make_conninfo(**{**conninfo_to_dict(lab_settings.warehouse_dsn), "dbname": "taxilab_scratch"})
    return lambda **kwargs: psycopg.connect(dsn, **kwargs)


@pytest.fixture()
def fresh_lake(lab_settings):
    """A factory of settings with a bucket and Glue zone databases of their own (tests that start from an
    empty lake and catalog): fresh_lake("taxilab-x", "it_x", state_dir=...)."""
    import uuid

    from emulation.glue import crawler
    from taxilab.core.clients import client

    def make(bucket_prefix: str, db_prefix: str, **extra):
        tag = uuid.uuid4().hex[:8]
        s = lab_settings.model_copy(
            update={
                "bucket": f"{bucket_prefix}-{tag}",
                "catalog_databases": {z: f"{db_prefix}_{tag}_{z}" for z in crawler.ZONES},
                **extra,
            }
        )
        client("s3", s).create_bucket(Bucket=s.bucket)
        return s

    return make
