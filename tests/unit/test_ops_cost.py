"""The cost model against bills worked by hand from the list prices in taxilab/ops/prices.json
(Glue $0.44/DPU-hour, Redshift Serverless $0.375/RPU-hour at 8 RPU, S3 $0.023/GB-month,
$0.005 per 1,000 class A and $0.0004 per 1,000 class B requests, CloudWatch $0.30/metric, $0.10/alarm)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from taxilab.core.jobgraph import load as load_jobgraph
from taxilab.ops import cost


def q(x: Decimal, places: str = "0.000001") -> Decimal:
    return x.quantize(Decimal(places))


def test_prices_name_their_source_pages_and_date():
    p = cost.load_prices()
    assert p["recorded_on"] and p["region"] == "us-east-1"
    for service in ("glue", "redshift_serverless", "s3", "sqs", "sns", "cloudwatch"):
        assert p[service]["source"].startswith("https://aws.amazon.com/"), service


def test_glue_job_under_a_minute_is_billed_the_one_minute_minimum():
    # 4 x G.1X = 4 DPU; 30.2 s -> 60 s billed: 4 * 60 / 3600 * 0.44 = 0.029333...
    assert q(cost.glue_job(30.2, "G.1X", 4)) == Decimal("0.029333")


def test_glue_job_is_billed_per_started_second_above_the_minimum():
    # 125.3 s -> 126 s: 4 * 126 / 3600 * 0.44 = 221.76 / 3600 = 0.0616 exactly
    assert cost.glue_job(125.3, "G.1X", 4) == Decimal("0.0616")
    # 61.0 s is 61 s, 61.01 s is 62 s
    assert cost.glue_job(61.0, "G.1X", 1) < cost.glue_job(61.01, "G.1X", 1)
    assert q(cost.glue_job(61.01, "G.1X", 1)) == q(Decimal(62) * Decimal("0.44") / 3600)


def test_glue_worker_type_sets_dpus_per_worker():
    # 10 x G.2X for an hour = 20 DPU-hours = $8.80
    assert cost.glue_job(3600, "G.2X", 10) == Decimal("8.80")
    assert cost.glue_job(3600, "G.2X", 1) == 2 * cost.glue_job(3600, "G.1X", 1)


def test_glue_rejects_an_unknown_worker_type_naming_it():
    with pytest.raises(cost.CostModelError, match="G.3X"):
        cost.glue_job(10, "G.3X", 2)
    with pytest.raises(cost.CostModelError, match="-5"):
        cost.glue_job(-5, "G.1X", 2)


def test_crawler_has_a_ten_minute_minimum():
    # 45 s -> 600 s at 2 DPU: 1200 / 3600 * 0.44 = 0.146667
    assert q(cost.glue_crawler(45)) == Decimal("0.146667")


def test_redshift_serverless_bills_each_active_period_at_least_60_seconds():
    # 20 s -> 60 s, 90 s -> 90 s: 150 s * 8 RPU = 1200 RPU-s = 1/3 RPU-hour * 0.375 = 0.125
    assert q(cost.redshift_serverless([20, 90])) == Decimal("0.125000")
    # one active period of 110 s is cheaper than the same work as two periods of 55 s
    assert cost.redshift_serverless([110]) < cost.redshift_serverless([55, 55])


def test_s3_storage_by_zone_and_requests_by_class():
    gb = 2**30
    assert cost.s3_storage({"raw": 10 * gb, "staging": gb // 2}) == {
        "raw": Decimal("0.23"),
        "staging": Decimal("0.0115"),
    }
    # 1,000 class A (0.005) + 10,000 class B (0.004)
    assert cost.s3_requests(1000, 10_000) == Decimal("0.009")
    with pytest.raises(cost.CostModelError, match="landing"):
        cost.s3_storage({"landing": 1})


def test_cloudwatch_month_applies_free_metrics_and_alarms():
    # 25 metrics, 13 alarms: (25 - 10) * 0.30 + (13 - 10) * 0.10 = 4.80
    assert cost.cloudwatch_month(25, 13, 0) == Decimal("4.80")
    assert cost.cloudwatch_month(25, 13, 0, free_tier=False) == Decimal("8.80")


def test_a_pipeline_report_is_priced_from_its_stage_times_and_the_jobgraph():
    report = {
        "stages": [
            {"name": "services", "status": "succeeded", "seconds": 1.0},
            {"name": "ingest", "status": "succeeded", "seconds": 9.0},
            {"name": "etl", "status": "succeeded", "seconds": 30.2},  # 4 x G.1X, 60 s billed: 0.029333
            {"name": "aggregates", "status": "succeeded", "seconds": 80.0},  # 2 x G.1X, 80 s: 0.019556
            {"name": "crawl", "status": "succeeded", "seconds": 12.0},  # crawler, 600 s: 0.146667
            {"name": "warehouse", "status": "succeeded", "seconds": 20.0},  # 2 x G.1X, 60 s: 0.014667
            {"name": "validate", "status": "succeeded", "seconds": 5.0},  # 2 x G.1X, 60 s: 0.014667
        ]
    }
    jg = load_jobgraph().raw
    u = cost.usage_from_report(report, jg)
    assert [j["job"] for j in u.glue_jobs] == [
        "taxilab-etl",
        "taxilab-aggregates",
        "taxilab-load-warehouse",
        "taxilab-validate",
    ]
    # warehouse + validate: one active period, billed 60 s: 8 RPU * 60 / 3600 * 0.375 = 0.05
    e = cost.estimate(u)
    assert q(e["by_service"]["glue"]) == Decimal("0.224889")
    assert u.redshift_active_s == [25.0]
    assert q(e["by_service"]["redshift"]) == Decimal("0.050000")
    assert q(e["total"]) == Decimal("0.274889")


def test_drops_processed_together_are_priced_once():
    stages = {
        "receive": 0.5,
        "etl": 10.0,
        "aggregates": 5.0,
        "warehouse": 3.0,
        "visible_query": 0.2,
        "crawl_after_visible": 4.0,
    }
    drop = {"visible_at": "2026-11-29T12:00:00+00:00", "stages": stages}
    u = cost.usage_from_report({"stages": [], "drops": [drop, dict(drop)]}, load_jobgraph().raw)
    assert len(u.glue_jobs) == 3 and len(u.crawler_runs_s) == 1
    assert u.redshift_active_s == [3.2]


def test_projected_month_continues_the_average_active_day():
    # $1.00 over 2 days with runs, on day 10 of 30: 1 + 0.5 * 20 = 11
    assert cost.projected_month(Decimal("1.00"), 2, 10, 30) == Decimal("11.00")
    assert cost.projected_month(Decimal(0), 0, 10, 30) == Decimal(0)


def test_requests_publishes_and_api_calls_are_priced_per_count_and_absent_when_zero():
    p = cost.load_prices()
    u = cost.RunUsage(sqs_requests=2_000_000, sns_publishes=500_000, cloudwatch_requests=3_000)
    lines = {ln["service"]: ln for ln in cost.estimate(u, p)["lines"]}
    assert lines["sqs"]["usd"] == 2 * Decimal(p["sqs"]["usd_per_million_requests"])
    assert lines["sns"]["usd"] == Decimal(p["sns"]["usd_per_million_publishes"]) / 2
    assert lines["cloudwatch"]["usd"] == 3 * Decimal(p["cloudwatch"]["usd_per_1000_api_requests"])
    assert [lines[s]["quantity"] for s in ("sqs", "sns", "cloudwatch")] == ["2000000", "500000", "3000"]
    assert cost.estimate(cost.RunUsage(), p)["lines"] == []
