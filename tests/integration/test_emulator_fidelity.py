"""The lab's moto server behaves like S3 where the lab depends on it (emulation/moto_server.py)."""

from __future__ import annotations

import pytest

from taxilab.core.clients import client

pytestmark = pytest.mark.integration


def test_a_deleted_object_leaves_no_folder_in_a_delimited_listing_of_a_versioned_bucket(lab_settings):
    s3 = client("s3", lab_settings)
    bucket = "taxilab-it-fidelity"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    for part in ("q=a", "q=b"):
        s3.put_object(Bucket=bucket, Key=f"s/p=1/{part}/f.parquet", Body=b"x")
    s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "s/p=1/q=a/f.parquet"}]})

    listed = s3.list_objects_v2(Bucket=bucket, Prefix="s/p=1/", Delimiter="/")
    assert [p["Prefix"] for p in listed.get("CommonPrefixes", [])] == ["s/p=1/q=b/"]
    top = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in top.get("CommonPrefixes", [])] == ["s/"]
    # The deleted version is still there to restore, as on S3.
    versions = s3.list_object_versions(Bucket=bucket, Prefix="s/p=1/q=a/")
    assert len(versions.get("Versions", [])) == 1 and len(versions.get("DeleteMarkers", [])) == 1
