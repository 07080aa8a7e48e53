"""The lab's Glue definitions (spark_jobs/jobgraph.json) as data: validated once, read by the local workflow
runner and turned into boto3 Glue create_job / create_crawler / create_workflow / create_trigger kwargs
for AWS, so both sides run the same declared graph."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from taxilab.core.cron import parse as parse_cron
from taxilab.core.settings import PROJECT_ROOT, Settings

# Glue's --job-bookmark-option values (the emulated bookmarks in emulation/glue/bookmarks.py use the same).
BOOKMARK_ENABLE, BOOKMARK_DISABLE, BOOKMARK_PAUSE = (
    "job-bookmark-enable",
    "job-bookmark-disable",
    "job-bookmark-pause",
)
BOOKMARK_OPTIONS = (BOOKMARK_ENABLE, BOOKMARK_DISABLE, BOOKMARK_PAUSE)
DEFINITIONS = PROJECT_ROOT / "spark_jobs" / "jobgraph.json"
TRIGGER_TYPES = ("ON_DEMAND", "SCHEDULED", "CONDITIONAL")
STATES = ("SUCCEEDED", "FAILED", "TIMEOUT", "STOPPED")
COMMANDS = ("glueetl", "pythonshell")
PYTHONSHELL_CAPACITY = (0.0625, 1.0)
GLUEETL_MIN_WORKERS = 2
LAB_PACKAGES = ("taxilab/", "spark_jobs/", "emulation/")  # scripts inside the lab's (Python 3.11) package
# Glue's SchemaChangePolicy values (API SchemaChangePolicy); a crawler without one gets Glue's behaviour for
# the lab's tables: widen/add columns in the catalog, drop partitions whose folder is gone (ADR 0017).
UPDATE_BEHAVIORS = ("UPDATE_IN_DATABASE", "LOG")
DELETE_BEHAVIORS = ("DELETE_FROM_DATABASE", "DEPRECATE_IN_DATABASE", "LOG")
DEFAULT_SCHEMA_CHANGE_POLICY = {
    "UpdateBehavior": "UPDATE_IN_DATABASE",
    "DeleteBehavior": "DELETE_FROM_DATABASE",
}


class DefinitionError(ValueError):
    pass


@dataclass
class Definitions:
    raw: dict[str, Any]
    source: Path

    @property
    def jobs(self) -> dict[str, dict]:
        return {j["name"]: j for j in self.raw["jobs"]}

    @property
    def crawlers(self) -> dict[str, dict]:
        return {c["name"]: c for c in self.raw.get("crawlers", [])}

    @property
    def workflow(self) -> dict:
        return self.raw["workflow"]

    @property
    def triggers(self) -> list[dict]:
        return self.workflow["triggers"]


def load(path: Path = DEFINITIONS) -> Definitions:
    try:
        raw = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise DefinitionError(f"{path}: cannot read Glue definitions: {e}") from None
    d = Definitions(raw, Path(path))
    validate(d)
    return d


def validate(d: Definitions) -> None:
    """Every reference resolves, every option is one Glue accepts; errors name file and item."""
    where = str(d.source)
    if str(d.raw.get("glue_version")) != "5.0":
        raise DefinitionError(
            f"{where}: glue_version must be 5.0 (the lab's Spark 3.5 / Python 3.11), "
            f"got {d.raw.get('glue_version')!r}"
        )
    for j in d.raw.get("jobs", []):
        command = j.get("command", "glueetl")
        if command not in COMMANDS:
            raise DefinitionError(f"{where}: job {j.get('name', '?')!r}: command must be one of {COMMANDS}")
        needed = (
            ("worker_type", "number_of_workers")
            if command == "glueetl"
            else ("python_version", "max_capacity")
        )
        for key in ("name", "script", "local", "timeout_minutes", "max_retries", *needed):
            if key not in j:
                raise DefinitionError(f"{where}: job {j.get('name', '?')!r} lacks {key!r}")
        if j.get("bookmark", "job-bookmark-disable") not in BOOKMARK_OPTIONS:
            raise DefinitionError(f"{where}: job {j['name']!r}: bookmark must be one of {BOOKMARK_OPTIONS}")
        if command == "glueetl" and int(j["number_of_workers"]) < GLUEETL_MIN_WORKERS:
            raise DefinitionError(
                f"{where}: job {j['name']!r}: a glueetl job needs number_of_workers >= "
                f"{GLUEETL_MIN_WORKERS} (Glue's minimum)"
            )
        if command == "pythonshell" and str(j["script"]).startswith(LAB_PACKAGES):
            # Python shell's newest runtime is 3.9; the lab's package needs 3.11 (Glue 5.0 glueetl has it).
            raise DefinitionError(
                f"{where}: job {j['name']!r}: {j['script']} imports the lab's Python 3.11 "
                "package, which a pythonshell job (Python 3.9) cannot import: make it a "
                "glueetl job (Glue 5.0)"
            )
        if command == "pythonshell":
            # What Glue accepts for a Python shell job: Python 3.9 (3.6 is retired), 0.0625 or 1 DPU, no
            # worker type, no bookmarks.
            if str(j["python_version"]) != "3.9" or float(j["max_capacity"]) not in PYTHONSHELL_CAPACITY:
                raise DefinitionError(
                    f"{where}: job {j['name']!r}: a pythonshell job needs python_version 3.9 and "
                    f"max_capacity one of {PYTHONSHELL_CAPACITY}"
                )
            if "worker_type" in j or "number_of_workers" in j:
                raise DefinitionError(
                    f"{where}: job {j['name']!r}: a pythonshell job takes max_capacity, "
                    "not worker_type/number_of_workers"
                )
            if j.get("bookmark", "job-bookmark-disable") != "job-bookmark-disable":
                raise DefinitionError(
                    f"{where}: job {j['name']!r}: Python shell jobs cannot use job bookmarks"
                )
    for c in d.raw.get("crawlers", []):
        schema_change_policy(c, where)
    names = set(d.jobs) | set(d.crawlers)
    starts = 0
    for t in d.triggers:
        if t.get("type") not in TRIGGER_TYPES:
            raise DefinitionError(f"{where}: trigger {t.get('name')!r}: type must be one of {TRIGGER_TYPES}")
        if t["type"] == "SCHEDULED":
            try:
                parse_cron(t.get("schedule", ""))
            except ValueError as e:
                raise DefinitionError(f"{where}: trigger {t['name']!r}: {e}") from None
        if t["type"] != "CONDITIONAL":
            starts += 1
        for c in t.get("predicate", {}).get("conditions", []):
            ref = c.get("job") or c.get("crawler")
            if ref not in names or c.get("state") not in STATES:
                raise DefinitionError(
                    f"{where}: trigger {t['name']!r}: condition {c} must name a defined job/crawler "
                    f"and a state in {STATES}"
                )
        for a in t.get("actions", []):
            if (a.get("job") or a.get("crawler")) not in names:
                raise DefinitionError(
                    f"{where}: trigger {t['name']!r}: action {a} names no defined job or crawler"
                )
    if starts != 1:
        raise DefinitionError(
            f"{where}: the workflow needs exactly one ON_DEMAND or SCHEDULED start trigger, has {starts}"
        )


def schema_change_policy(crawler: dict, where: str = str(DEFINITIONS)) -> dict[str, str]:
    """The crawler's declared `schema_change_policy` ({"UpdateBehavior", "DeleteBehavior"}, Glue's field
    names and values) with Glue's defaults for a field left out; anything else is a DefinitionError."""
    declared = crawler.get("schema_change_policy", {})
    name = crawler.get("name", "?")
    if not isinstance(declared, dict):
        raise DefinitionError(
            f"{where}: crawler {name!r}: schema_change_policy must be an object with "
            "UpdateBehavior and DeleteBehavior"
        )
    unknown = sorted(set(declared) - set(DEFAULT_SCHEMA_CHANGE_POLICY))
    if unknown:
        raise DefinitionError(
            f"{where}: crawler {name!r}: schema_change_policy has unknown field(s) {unknown}; "
            "Glue's fields are UpdateBehavior and DeleteBehavior"
        )
    policy = {**DEFAULT_SCHEMA_CHANGE_POLICY, **declared}
    if policy["UpdateBehavior"] not in UPDATE_BEHAVIORS:
        raise DefinitionError(
            f"{where}: crawler {name!r}: schema_change_policy UpdateBehavior "
            f"{policy['UpdateBehavior']!r} is not one of {UPDATE_BEHAVIORS}"
        )
    if policy["DeleteBehavior"] not in DELETE_BEHAVIORS:
        raise DefinitionError(
            f"{where}: crawler {name!r}: schema_change_policy DeleteBehavior "
            f"{policy['DeleteBehavior']!r} is not one of {DELETE_BEHAVIORS}"
        )
    return policy


def substitute(value: str, variables: dict[str, str]) -> str:
    def repl(m):
        if m.group(1) not in variables:
            raise DefinitionError(f"argument {value!r}: no value for ${{{m.group(1)}}}")
        return variables[m.group(1)]

    return re.sub(r"\$\{(\w+)\}", repl, value)


def job_arguments(job: dict, variables: dict[str, str]) -> dict[str, str]:
    args = {k: substitute(v, variables) for k, v in job.get("arguments", {}).items()}
    args["--job-bookmark-option"] = job.get("bookmark", "job-bookmark-disable")
    return args


def declared_argv(job: dict, settings: Settings, month: object, name: str | None = None) -> list[str]:
    """The declared job's Glue-style argv for a month: its arguments with settings and the month filled in
    (the bookmark option is the runner's to add). The one place a job's argv is built from the graph."""
    from taxilab.core.runs import job_argv

    args = job_arguments(job, {"bucket": settings.bucket, "dataset": settings.dataset, "month": str(month)})
    return job_argv(
        name or job["local"], **{k[2:]: v for k, v in args.items() if k != "--job-bookmark-option"}
    )


# ---- AWS deployment ---------------------------------------------------------------------------------
def to_aws(
    d: Definitions, settings: Settings, role_arn: str, scripts_prefix: str, month: str = "${month}"
) -> dict:
    """boto3 Glue kwargs: {'jobs': [create_job], 'crawlers': [create_crawler], 'workflow': create_workflow,
    'triggers': [create_trigger]}. Scripts are expected under s3://<bucket>/<scripts_prefix>/ (uploaded by
    the deployer); the month stays a default argument a run overrides."""
    variables = {"bucket": settings.bucket, "dataset": settings.dataset, "month": month}
    jobs = []
    for j in d.raw["jobs"]:
        script = f"s3://{settings.bucket}/{scripts_prefix.strip('/')}/{j['script']}"
        kw = {"Name": j["name"], "Role": role_arn}
        if j.get("command", "glueetl") == "pythonshell":
            args = {k: v for k, v in job_arguments(j, variables).items() if k != "--job-bookmark-option"}
            kw |= {
                "Command": {
                    "Name": "pythonshell",
                    "PythonVersion": str(j["python_version"]),
                    "ScriptLocation": script,
                },
                "GlueVersion": str(j.get("glue_version", "3.0")),
                "MaxCapacity": float(j["max_capacity"]),
            }
        else:
            args = job_arguments(j, variables)
            kw |= {
                "Command": {"Name": "glueetl", "PythonVersion": "3", "ScriptLocation": script},
                "GlueVersion": str(j.get("glue_version", d.raw["glue_version"])),
                "WorkerType": j["worker_type"],
                "NumberOfWorkers": int(j["number_of_workers"]),
            }
        args |= {k: substitute(v, variables) for k, v in j.get("aws_arguments", {}).items()}
        kw |= {
            "DefaultArguments": args,
            "Timeout": int(j["timeout_minutes"]),
            "MaxRetries": int(j["max_retries"]),
            "ExecutionProperty": {"MaxConcurrentRuns": 1},
        }
        jobs.append(kw)
    # Glue writes one crawler's tables into one database; the lab keeps one database per zone, so each
    # declared crawler becomes one Glue crawler per zone, named <name>-<zone>.
    crawlers: list[dict] = []
    crawler_names: dict[str, list[str]] = {}
    for c in d.raw.get("crawlers", []):
        crawler_names[c["name"]] = []
        for z in c["zones"]:
            name = f"{c['name']}-{z}"
            crawler_names[c["name"]].append(name)
            crawlers.append(
                {
                    "Name": name,
                    "Role": role_arn,
                    "DatabaseName": settings.catalog_databases[z],
                    "Targets": {
                        "S3Targets": [
                            {"Path": f"s3://{settings.bucket}/{z}/", "Exclusions": ["**/_*", "**/.*"]}
                        ]
                    },
                    "SchemaChangePolicy": schema_change_policy(c, str(d.source)),
                    "RecrawlPolicy": {"RecrawlBehavior": "CRAWL_EVERYTHING"},
                    "Configuration": json.dumps(
                        {
                            "Version": 1.0,
                            "CrawlerOutput": {"Tables": {"AddOrUpdateBehavior": "MergeNewColumns"}},
                        }
                    ),
                }
            )
    wf = d.workflow["name"]
    triggers = []
    for t in d.triggers:
        kw = {"Name": t["name"], "WorkflowName": wf, "Type": t["type"]}
        if t["type"] == "CONDITIONAL":
            p = t["predicate"]
            conds = []
            for c in p["conditions"]:
                if "job" in c:
                    conds.append({"LogicalOperator": "EQUALS", "State": c["state"], "JobName": c["job"]})
                else:
                    conds += [
                        {"LogicalOperator": "EQUALS", "CrawlState": c["state"], "CrawlerName": n}
                        for n in crawler_names[c["crawler"]]
                    ]
            kw["Predicate"] = {"Logical": p.get("logical", "AND"), "Conditions": conds}
            kw["StartOnCreation"] = True
        elif t["type"] == "SCHEDULED":
            kw["Schedule"] = t["schedule"]
            kw["StartOnCreation"] = True
        acts: list[dict[str, str]] = []
        for a in t["actions"]:
            acts += (
                [{"JobName": a["job"]}]
                if "job" in a
                else [{"CrawlerName": n} for n in crawler_names[a["crawler"]]]
            )
        kw["Actions"] = acts
        triggers.append(kw)
    return {
        "jobs": jobs,
        "crawlers": crawlers,
        "workflow": {"Name": wf, "Description": "taxilab monthly pipeline", "MaxConcurrentRuns": 1},
        "triggers": triggers,
    }


def deploy(glue, kwargs: dict) -> dict[str, list[str]]:
    """Create (or update) everything to_aws describes; returns the names created/updated per kind."""
    done: dict[str, list[str]] = {"jobs": [], "crawlers": [], "workflow": [], "triggers": []}
    for j in kwargs["jobs"]:
        try:
            glue.create_job(**j)
        except glue.exceptions.AlreadyExistsException:
            glue.update_job(JobName=j["Name"], JobUpdate={k: v for k, v in j.items() if k != "Name"})
        done["jobs"].append(j["Name"])
    for c in kwargs["crawlers"]:
        try:
            glue.create_crawler(**c)
        except glue.exceptions.AlreadyExistsException:
            # Replaced rather than updated: the crawler keeps no state the lab needs (the catalog does), and
            # the moto server does not implement UpdateCrawler.
            glue.delete_crawler(Name=c["Name"])
            glue.create_crawler(**c)
        done["crawlers"].append(c["Name"])
    try:
        glue.create_workflow(**kwargs["workflow"])
    except glue.exceptions.AlreadyExistsException:
        pass
    done["workflow"].append(kwargs["workflow"]["Name"])
    for t in kwargs["triggers"]:
        try:
            glue.create_trigger(**t)
        except glue.exceptions.AlreadyExistsException:
            glue.delete_trigger(Name=t["Name"])
            glue.create_trigger(**t)
        done["triggers"].append(t["Name"])
    return done
