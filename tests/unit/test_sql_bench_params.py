"""`taxilab sql bench` runs every named analytics query: the values it passes cover each query's parameters."""

from spark_jobs.month import Month
from taxilab.cli.sql import bench_params
from taxilab.warehouse import queries


def test_sql_bench_gives_every_named_query_all_of_its_parameters():
    params = bench_params(Month.parse("2024-02"))
    missing = {q.name: sorted(set(q.params) - set(params)) for q in queries.all_queries()}
    assert {k: v for k, v in missing.items() if v} == {}


def test_a_query_with_a_parameter_the_bench_does_not_know_is_reported(tmp_path):
    (tmp_path / "by_region.sql").write_text("SELECT 1 FROM taxi.fct_trips WHERE region = :region\n")
    q = queries.load_query("by_region", tmp_path)
    assert set(q.params) - set(bench_params(Month.parse("2024-02"))) == {"region"}


def test_sql_bench_params_cover_the_whole_month():
    params = bench_params(Month.parse("2024-02"))
    assert (params["month"], params["start_date"], params["end_date"]) == (
        "2024-02",
        "2024-02-01",
        "2024-02-29",
    )
