"""COPY ... GZIP refuses an object whose expansion passes settings.copy_max_expanded_bytes (a gzip bomb),
naming the object and the limit, and leaves the table unchanged; an object under the limit loads."""

from __future__ import annotations

import gzip

import pytest

from taxilab.core.clients import client
from taxilab.warehouse.sql_exec import run_statement

pytestmark = pytest.mark.integration
ROLE = "arn:aws:iam::123456789012:role/taxilab-copy"


@pytest.fixture()
def lake(fresh_lake):
    s = fresh_lake("taxilab-bomb", "it_bomb")
    body = b"".join(b"%d|row\n" % i for i in range(200_000))  # 1.4 MB of text, ~0.3 MB gzipped
    client("s3", s).put_object(Bucket=s.bucket, Key="in/bomb.txt.gz", Body=gzip.compress(body, 9))
    client("s3", s).put_object(Bucket=s.bucket, Key="small/ok.txt.gz", Body=gzip.compress(b"1|a\n2|b\n"))
    return s, len(body)


def test_a_gzip_object_expanding_past_the_limit_is_refused_naming_it_and_the_limit(lake, pg):
    s, expanded = lake
    s = s.model_copy(update={"copy_max_expanded_bytes": expanded // 4})
    run_statement(s, "CREATE TABLE IF NOT EXISTS public.it_bomb (id INTEGER, label VARCHAR(8))", pg)
    run_statement(s, "TRUNCATE public.it_bomb", pg)
    pg.commit()
    with pytest.raises(
        Exception, match=rf"in/bomb\.txt\.gz expands beyond the limit of {expanded // 4} bytes"
    ):
        run_statement(s, f"COPY public.it_bomb FROM 's3://{s.bucket}/in/' IAM_ROLE '{ROLE}' GZIP", pg)
    pg.rollback()
    assert pg.execute("SELECT count(*) FROM public.it_bomb").fetchone()[0] == 0
    loaded = run_statement(s, f"COPY public.it_bomb FROM 's3://{s.bucket}/small/' IAM_ROLE '{ROLE}' GZIP", pg)
    assert loaded.rowcount == 2
    pg.rollback()
