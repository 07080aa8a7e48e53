"""The crawler's schema rules (which changes widen, which conflict), its SchemaChangePolicy as declared in
spark_jobs/jobgraph.json and passed to create_crawler, and the pipeline's half-done note (issue 11)."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from emulation.glue import crawler
from taxilab.core import jobgraph
from taxilab.core.settings import load_settings
from taxilab.orchestration.pipeline import half_done


@pytest.mark.parametrize(
    ("old", "new", "wider"),
    [
        ("int", "bigint", "bigint"),
        ("bigint", "int", "bigint"),
        ("tinyint", "smallint", "smallint"),
        ("float", "double", "double"),
        ("int", "double", "double"),
        ("bigint", "double", "double"),
        ("double", "bigint", "double"),
        ("int", "float", "double"),
        ("void", "double", "double"),
        ("string", "void", "string"),
        ("date", "date", "date"),
    ],
)
def test_compatible_changes_widen_to_the_type_holding_both(old, new, wider):
    assert crawler.widen(old, new) == wider


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("string", "bigint"),
        ("bigint", "string"),
        ("double", "string"),
        ("timestamp", "string"),
        ("timestamp", "date"),
        ("boolean", "int"),
        ("decimal(10,2)", "decimal(12,4)"),
        ("array<int>", "int"),
    ],
)
def test_incompatible_changes_do_not_widen(old, new):
    assert crawler.widen(old, new) is None


def test_null_typed_parquet_column_is_void():
    assert crawler.hive_type(pa.null()) == "void"
    assert crawler.hive_type(pa.large_string()) == "string"


def test_evolve_appends_new_columns_widens_and_lists_conflicts_keeping_the_table_type():
    evo = crawler.evolve(
        "db",
        "t",
        [("VendorID", "int"), ("note", "string")],
        {
            "year=2018/month=01": [("VendorID", "bigint"), ("note", "string"), ("airport_fee", "void")],
            "year=2024/month=02": [("VendorID", "int"), ("note", "bigint"), ("cbd_congestion_fee", "double")],
        },
    )
    assert evo.columns == [("VendorID", "bigint"), ("note", "string"), ("cbd_congestion_fee", "double")]
    assert (evo.new_columns, evo.widened) == (["cbd_congestion_fee"], ["VendorID int -> bigint"])
    assert [str(c) for c in evo.conflicts] == [
        "db.t: column 'note' changed type from string to bigint in year=2024/month=02"
    ]


def test_files_of_one_partition_are_merged_and_their_clashes_named():
    cols, clashes = crawler.partition_columns(
        "t",
        {
            "raw/a.parquet": [("VendorID", "bigint"), ("year", "int"), ("note", "string")],
            "raw/b.parquet": [("vendorid", "int"), ("note", "double"), ("extra", "void")],
        },
        {"year"},
    )
    assert cols == [("VendorID", "bigint"), ("note", "string"), ("extra", "void")]
    assert clashes == [("note", "string", "double", "raw/b.parquet")]


def _defs_with_policy(tmp_path, policy):
    raw = json.loads(jobgraph.DEFINITIONS.read_text())
    raw["crawlers"][0]["schema_change_policy"] = policy
    p = tmp_path / "jobgraph.json"
    p.write_text(json.dumps(raw))
    return p


def test_declared_policy_reaches_the_lab_crawler_and_create_crawler(tmp_path):
    declared = jobgraph.load().crawlers["taxilab-crawler"]["schema_change_policy"]
    assert crawler.SchemaChangePolicy.declared().as_dict() == declared
    d = jobgraph.load(_defs_with_policy(tmp_path, {"UpdateBehavior": "LOG", "DeleteBehavior": "LOG"}))
    kw = jobgraph.to_aws(d, load_settings(state_dir=tmp_path / "s"), "arn:r", "scripts")["crawlers"]
    assert {json.dumps(c["SchemaChangePolicy"], sort_keys=True) for c in kw} == {
        json.dumps({"DeleteBehavior": "LOG", "UpdateBehavior": "LOG"}, sort_keys=True)
    }
    assert crawler.SchemaChangePolicy.of(d.crawlers["taxilab-crawler"]) == crawler.SchemaChangePolicy(
        "LOG", "LOG"
    )
    # a field left out takes Glue's value for the lab's tables
    partial = jobgraph.load(_defs_with_policy(tmp_path, {"UpdateBehavior": "LOG"}))
    assert (
        jobgraph.schema_change_policy(partial.crawlers["taxilab-crawler"])["DeleteBehavior"]
        == "DELETE_FROM_DATABASE"
    )


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ({"UpdateBehavior": "MERGE"}, "UpdateBehavior 'MERGE' is not one of"),
        ({"DeleteBehavior": "DROP"}, "DeleteBehavior 'DROP' is not one of"),
        ({"updatebehavior": "LOG"}, "unknown field"),
        ("LOG", "must be an object"),
    ],
)
def test_a_bad_schema_change_policy_is_refused_naming_file_crawler_and_field(tmp_path, policy, message):
    path = _defs_with_policy(tmp_path, policy)
    with pytest.raises(jobgraph.DefinitionError, match=message) as e:
        jobgraph.load(path)
    assert str(path) in str(e.value) and "taxilab-crawler" in str(e.value)


def test_half_done_names_what_was_written_what_was_not_and_the_repair():
    note = half_done("2018-01", ["taxilab-etl", "taxilab-aggregates"])
    assert note == (
        "half-done for 2018-01: staging and quarantine written, curated aggregates written; catalog not "
        "updated, warehouse not loaded, not reconciled: rerun `make pipeline MONTH=2018-01` (each stage "
        "replaces the month it writes)"
    )
    assert half_done("2018-01", []) is None
