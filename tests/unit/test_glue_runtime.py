"""Job arguments are parsed the way AWS Glue's getResolvedOptions parses them."""

import pytest

from spark_jobs.runtime import JobArgumentError, get_resolved_options


def test_named_options_are_resolved_from_glue_style_argv():
    argv = ["etl.py", "--JOB_NAME", "etl", "--month", "2024-02", "--bucket", "lake"]
    assert get_resolved_options(argv, ["JOB_NAME", "month", "bucket"]) == {
        "JOB_NAME": "etl",
        "month": "2024-02",
        "bucket": "lake",
    }


def test_arguments_glue_adds_itself_and_unknown_ones_are_ignored():
    argv = [
        "etl.py",
        "--JOB_NAME",
        "etl",
        "--job-bookmark-option",
        "job-bookmark-enable",
        "--JOB_RUN_ID",
        "jr_1",
        "--TempDir",
        "s3://tmp/",
        "--something-else",
        "x",
        "--month",
        "2024-02",
    ]
    assert get_resolved_options(argv, ["JOB_NAME", "month"]) == {"JOB_NAME": "etl", "month": "2024-02"}


def test_equals_form_is_accepted():
    assert get_resolved_options(["j", "--month=2024-02"], ["month"]) == {"month": "2024-02"}


def test_missing_required_option_names_it():
    with pytest.raises(JobArgumentError, match="--month"):
        get_resolved_options(["etl.py", "--JOB_NAME", "etl"], ["JOB_NAME", "month"])


def test_a_job_without_glue_or_a_provided_session_says_where_a_session_comes_from():
    from spark_jobs import runtime

    runtime.set_session_provider(None)
    with pytest.raises(runtime.JobRuntimeError, match="set_session_provider"):
        runtime.JobContext({"JOB_NAME": "etl"})


def test_the_local_runner_hands_jobs_their_session_through_the_one_seam():
    from spark_jobs import runtime

    marker = object()
    runtime.set_session_provider(lambda: marker)
    try:
        assert runtime.JobContext({"JOB_NAME": "etl"}).spark is marker
    finally:
        runtime.set_session_provider(None)


def test_a_placeholder_month_comes_from_the_glue_workflow_runs_properties():
    import boto3
    from botocore.stub import Stubber

    glue = boto3.client("glue", region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s")
    stub = Stubber(glue)
    stub.add_response(
        "get_workflow_run_properties",
        {"RunProperties": {"month": "2024-03"}},
        {"Name": "taxilab-monthly", "RunId": "wr_1"},
    )
    argv = [
        "etl.py",
        "--JOB_NAME",
        "taxilab-etl",
        "--month",
        "${month}",
        "--WORKFLOW_NAME",
        "taxilab-monthly",
        "--WORKFLOW_RUN_ID",
        "wr_1",
    ]
    with stub:
        assert get_resolved_options(argv, ["JOB_NAME", "month"], glue=glue) == {
            "JOB_NAME": "taxilab-etl",
            "month": "2024-03",
        }


def test_a_placeholder_left_without_a_workflow_run_is_refused_by_name():
    with pytest.raises(JobArgumentError, match=r"--month \(\$\{month\}\).*no workflow run"):
        get_resolved_options(["etl.py", "--JOB_NAME", "etl", "--month", "${month}"], ["JOB_NAME", "month"])
