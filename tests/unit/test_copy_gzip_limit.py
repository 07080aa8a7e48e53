"""The COPY emulation's bounded gunzip: refuses an expansion past the limit without keeping it whole."""

from __future__ import annotations

import gzip

import pytest

from emulation.redshift.copy import CopyError, gunzip_limited


def test_expansion_past_the_limit_is_refused_naming_the_object_and_the_limit():
    bomb = gzip.compress(b"\0" * 5_000_000, 9)  # ~5 kB that expands to 5 MB
    assert len(bomb) < 10_000
    with pytest.raises(CopyError, match=r"COPY t: s3://b/bomb\.gz expands beyond the limit of 1000000 bytes"):
        gunzip_limited(bomb, "s3://b/bomb.gz", "t", 1_000_000)


def test_expansion_at_the_limit_and_multi_member_objects_load():
    body = gzip.compress(b"1|a\n") + gzip.compress(b"2|b\n")  # two members, as `cat a.gz b.gz`
    assert gunzip_limited(body, "s3://b/x.gz", "t", 8) == b"1|a\n2|b\n"


def test_data_that_is_not_gzip_is_refused_naming_it():
    with pytest.raises(CopyError, match="s3://b/x.gz is not gzip data"):
        gunzip_limited(b"plain text", "s3://b/x.gz", "t", 100)
