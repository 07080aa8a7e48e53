"""Lake paths, month parsing, settings profiles and exact money sums."""

from datetime import date
from decimal import Decimal

import pyarrow as pa
import pytest

from spark_jobs.io import paths
from spark_jobs.month import Month, MonthError
from taxilab.core.settings import load_settings
from taxilab.validation.lakestats import cents


def test_raw_month_prefix_follows_hive_layout():
    assert paths.raw_month_prefix("nyc_taxi", "2024-02") == "raw/dataset=nyc_taxi/year=2024/month=02/"
    assert paths.raw_file_name("2024-02") == "yellow_tripdata_2024-02.parquet"


def test_manifest_is_hidden_from_spark_readers_of_the_prefix():
    assert paths.manifest_key("nyc_taxi", "2024-02").rsplit("/", 1)[1].startswith("_")


@pytest.mark.parametrize(
    "bad",
    [
        "2024-13",
        "2024-2x",
        "24-02",
        "",
        "2024/02",
        "2024-00",
        "2024-2",
        "2024-0_2",
        "２０２４-02",
        "2024-٠2",
        " 2024-02",
        "2024-02\n",
        "+2024-02",
        None,
        202402,
    ],
)
def test_bad_month_is_refused_with_the_value_named(bad):
    with pytest.raises(MonthError, match="YYYY-MM") as err:
        Month.parse(bad)
    assert repr(bad) in str(err.value)
    with pytest.raises(ValueError, match="YYYY-MM"):
        paths.raw_month_prefix("nyc_taxi", bad)


def test_month_knows_its_days_bounds_and_range():
    feb = Month.parse("2024-02")
    assert (str(feb), len(feb.days), feb.bounds()) == ("2024-02", 29, (date(2024, 2, 1), date(2024, 3, 1)))
    assert [str(m) for m in Month.range("2023-11", "2024-02")] == ["2023-11", "2023-12", "2024-01", "2024-02"]
    assert str(Month.parse("2024-12").next) == "2025-01"
    with pytest.raises(MonthError, match="before it starts"):
        Month.range("2024-03", "2024-02")


def test_curated_month_prefix_is_owned_by_one_month():
    assert (
        paths.curated_month_prefix("daily_summary", "2024-02")
        == "curated/daily_summary/pickup_month=2024-02/"
    )


def test_local_profile_has_no_fixed_endpoints_until_services_run(tmp_path):
    s = load_settings(state_dir=tmp_path)
    assert s.profile == "local" and s.endpoint("s3") is None and s.uses_emulator


def test_local_profile_reads_endpoints_of_running_services_from_state_file(tmp_path):
    (tmp_path / "services.json").write_text(
        '{"endpoints": {"s3": "http://127.0.0.1:5999"}, "warehouse_dsn": "postgresql://x@127.0.0.1:1/db"}'
    )
    s = load_settings(state_dir=tmp_path)
    assert s.endpoint("s3") == "http://127.0.0.1:5999"
    assert s.warehouse_dsn == "postgresql://x@127.0.0.1:1/db"


def test_compose_profile_points_at_fixed_container_ports(monkeypatch, tmp_path):
    monkeypatch.setenv("TAXILAB_PROFILE", "compose")
    s = load_settings(state_dir=tmp_path)
    assert s.endpoint("s3").startswith("http://127.0.0.1:")
    assert s.warehouse_dsn.startswith("postgresql://")


def test_aws_profile_uses_aws_endpoints_and_no_emulator_credentials(monkeypatch, tmp_path):
    monkeypatch.setenv("TAXILAB_PROFILE", "aws")
    s = load_settings(state_dir=tmp_path)
    assert s.endpoint("s3") is None and not s.uses_emulator


def test_aws_profile_without_credentials_is_refused_clearly(monkeypatch, tmp_path):
    from taxilab.core import clients as aws

    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("TAXILAB_PROFILE", "aws")
    with pytest.raises(aws.AwsProfileError, match="no AWS credentials"):
        aws.client("s3", load_settings(state_dir=tmp_path))


def test_money_is_summed_in_exact_cents_with_half_up_rounding_of_the_shortest_form():
    assert cents(pa.array([2.675, -0.125, 1.1, 0.3])) == 268 - 13 + 110 + 30
    assert Decimal(cents(pa.array([0.1] * 10))) / 100 == Decimal("1.00")


def test_nan_inf_and_null_amounts_drop_out_of_money_sums():
    assert cents(pa.array([1.0, float("nan"), float("inf"), None, -float("inf")])) == 100
