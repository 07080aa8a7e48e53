"""Stage errors are written for people: no Java stack in the message (it goes to the log)."""

from __future__ import annotations

from taxilab.orchestration.pipeline import brief_error


class Py4JJavaError(Exception):
    pass


def test_a_jvm_error_keeps_its_first_line_java_exception_and_root_cause_only():
    e = Py4JJavaError(
        "An error occurred while calling o103.exists.\n"
        ": org.apache.hadoop.fs.s3a.UnknownStoreException: `s3://b/raw': getFileStatus: NoSuchBucket\n"
        "\tat com.amazonaws.http.AmazonHttpClient.handle(AmazonHttpClient.java:1879)\n"
        "\tat org.apache.hadoop.fs.s3a.Invoker.once(Invoker.java:117)\n"
        "Caused by: com.amazonaws.services.s3.model.AmazonS3Exception: The specified bucket does not exist\n"
        "\tat q.r(S.java:3)\n"
    )
    msg = brief_error(e)
    assert msg.startswith("Py4JJavaError: An error occurred while calling o103.exists.")
    assert "UnknownStoreException" in msg and "The specified bucket does not exist" in msg
    assert "\tat " not in msg and ".java:" not in msg


def test_a_plain_error_is_type_and_message_unchanged():
    assert (
        brief_error(ValueError("month 2024-13 is not YYYY-MM")) == "ValueError: month 2024-13 is not YYYY-MM"
    )
