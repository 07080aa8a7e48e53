"""The aws profile's warehouse path: the Redshift Data API (boto3 'redshift-data').
Why: docs/adr/0008-copy-unload-data-api.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from taxilab.core.redshift_sql import iam_role_span, in_schema_text
from taxilab.core.settings import Settings

DONE = ("FINISHED", "FAILED", "ABORTED")
MAX_BATCH = 40  # BatchExecuteStatement's limit on Sqls


class DataApiError(RuntimeError):
    """A statement that failed, was aborted or timed out on Redshift (the message names it)."""


@dataclass
class StatementResult:
    id: str
    columns: list[str] = field(default_factory=list)
    rows: list[tuple] = field(default_factory=list)
    rowcount: int = -1


def _value(cell: dict):
    if cell.get("isNull"):
        return None
    for key in ("stringValue", "longValue", "doubleValue", "booleanValue", "blobValue"):
        if key in cell:
            return cell[key]
    if "arrayValue" in cell:
        return cell["arrayValue"]
    raise DataApiError(f"unknown Data API field shape {cell!r}")


def substitute_iam_role(sql_text: str, iam_role: str | None) -> str:
    """COPY/UNLOAD with their IAM_ROLE value replaced by `iam_role` (other SQL unchanged)."""
    if not iam_role:
        return sql_text
    span = iam_role_span(sql_text)
    if span is None:
        return sql_text
    start, end = span
    return sql_text[:start] + "'" + iam_role.replace("'", "''") + "'" + sql_text[end:]


def prepare(sql_text: str, settings: Settings) -> str:
    """The text sent to Redshift: `taxi.` tables in settings.warehouse_schema (located on sqlglot's AST;
    untouched for the canonical schema), and the account's IAM role in COPY/UNLOAD/external schemas."""
    return substitute_iam_role(
        in_schema_text(sql_text, settings.warehouse_schema), settings.redshift_iam_role
    )


class DataApiClient:
    """execute(sql, parameters) -> StatementResult, against the Redshift of `settings`."""

    def __init__(
        self,
        settings: Settings,
        client=None,
        poll_interval: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ):
        if not (settings.redshift_workgroup or settings.redshift_cluster_id):
            raise DataApiError(
                "no Redshift target: set TAXILAB_REDSHIFT_WORKGROUP (Serverless) or "
                "TAXILAB_REDSHIFT_CLUSTER_ID with TAXILAB_REDSHIFT_DB_USER (provisioned)"
            )
        if settings.redshift_cluster_id and not (settings.redshift_db_user or settings.redshift_secret_arn):
            raise DataApiError(
                "a provisioned cluster needs TAXILAB_REDSHIFT_DB_USER or TAXILAB_REDSHIFT_SECRET_ARN"
            )
        if client is None:
            from taxilab.core import clients as aws

            client = aws.client("redshift-data", settings)
        self.settings, self.client = settings, client
        self.poll_interval, self.sleep, self.clock = poll_interval, sleep, clock

    def _target(self) -> dict:
        s = self.settings
        target: dict[str, str | None] = {"Database": s.redshift_database}
        if s.redshift_workgroup:
            target["WorkgroupName"] = s.redshift_workgroup
        else:
            target["ClusterIdentifier"] = s.redshift_cluster_id
            if s.redshift_db_user and not s.redshift_secret_arn:
                target["DbUser"] = s.redshift_db_user
        if s.redshift_secret_arn:
            target["SecretArn"] = s.redshift_secret_arn
        return target

    def _wait(self, statement_id: str, what: str) -> dict:
        """Poll until FINISHED (the description) or FAILED/ABORTED/timeout (DataApiError naming `what`)."""
        deadline = self.clock() + self.settings.redshift_statement_timeout_s
        while True:
            desc = self.client.describe_statement(Id=statement_id)
            status = desc["Status"]
            if status in DONE:
                break
            if self.clock() >= deadline:
                try:
                    self.client.cancel_statement(Id=statement_id)
                finally:
                    raise DataApiError(
                        f"statement {statement_id} still {status} after "
                        f"{self.settings.redshift_statement_timeout_s:g} s; cancelled"
                    )
            self.sleep(self.poll_interval)
        if status != "FINISHED":
            failed = [s for s in desc.get("SubStatements", []) if s.get("Status") in ("FAILED", "ABORTED")]
            if failed:  # a batch: name the statement that failed (the whole batch was rolled back)
                sub = failed[0]
                what = f"{what}; statement {sub.get('Id', '?')}: {sub.get('QueryString', '').strip()[:200]}"
                desc = {**desc, "Error": sub.get("Error") or desc.get("Error")}
            raise DataApiError(
                f"statement {statement_id} {status}: {desc.get('Error', 'no error message')} ({what})"
            )
        return desc

    def execute(self, sql_text: str, parameters: dict[str, str] | None = None) -> StatementResult:
        request = {**self._target(), "Sql": prepare(sql_text, self.settings)}
        if parameters:
            request["Parameters"] = [{"name": k, "value": str(v)} for k, v in parameters.items()]
        statement_id = self.client.execute_statement(**request)["Id"]
        desc = self._wait(statement_id, f"SQL: {sql_text.strip()[:200]}")
        result = StatementResult(statement_id, rowcount=desc.get("ResultRows", -1))
        if desc.get("HasResultSet"):
            self._fetch(statement_id, result)
        return result

    def _fetch(self, statement_id: str, result: StatementResult) -> None:
        token = None
        while True:
            page = self.client.get_statement_result(
                Id=statement_id, **({"NextToken": token} if token else {})
            )
            if not result.columns:
                result.columns = [c["name"] for c in page.get("ColumnMetadata", [])]
            result.rows.extend(tuple(_value(c) for c in record) for record in page.get("Records", []))
            token = page.get("NextToken")
            if not token:
                break

    def execute_batch(self, statements: list[str]) -> list[StatementResult]:
        """BatchExecuteStatement: the statements run in order as ONE transaction on Redshift (any failure
        rolls all of them back). No Parameters (the Data API takes none for a batch): values must be in
        the text already (sql_load renders validated literals). IAM_ROLE values are substituted as in
        execute. Returns one StatementResult per statement (rowcount: rows affected; rows if it returned
        any). At most MAX_BATCH statements: a transaction cannot be split across batches."""
        if not statements:
            raise DataApiError("execute_batch needs at least one statement")
        if len(statements) > MAX_BATCH:
            raise DataApiError(
                f"a Data API batch takes at most {MAX_BATCH} statements, got {len(statements)}; "
                "one transaction cannot span two batches"
            )
        sqls = [prepare(s, self.settings) for s in statements]
        statement_id = self.client.batch_execute_statement(**self._target(), Sqls=sqls)["Id"]
        desc = self._wait(statement_id, f"batch of {len(sqls)} statements, rolled back")
        subs = desc.get("SubStatements", [])
        if len(subs) != len(sqls):
            raise DataApiError(
                f"batch {statement_id}: {len(subs)} sub-statement results for {len(sqls)} statements"
            )
        out = []
        for sub in subs:
            result = StatementResult(sub["Id"], rowcount=sub.get("ResultRows", -1))
            if sub.get("HasResultSet"):
                self._fetch(sub["Id"], result)
            out.append(result)
        return out

    def run_named(self, query, params: dict[str, str] | None = None) -> StatementResult:
        """A named query (queries.NamedQuery) with its file text unchanged and its parameters bound."""
        from taxilab.warehouse import queries

        values = queries.bind(query, params or {})
        return self.execute(query.sql, values or None)
