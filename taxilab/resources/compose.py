"""The compose profile's resources: the docker-compose.yml stack as the services, and the Glue job
container as the job runner (docs/adr/0012-layout-and-layers.md). The warehouse is the emulated one
(taxilab.resources.emulated.PostgresWarehouse), in its container."""

from __future__ import annotations

from typing import Any

from taxilab.core.settings import Settings
from taxilab.resources.emulated import LabBookmarks


class ComposeServices:
    """The containers of docker-compose.yml, started and stopped with the compose tool."""

    name = "docker-compose.yml stack"
    starts_with_pipeline = False  # `make up PROFILE=compose` starts the stack

    def ensure_running(self, settings: Settings) -> tuple[Settings, dict[str, Any]]:
        import taxilab.resources.compose_stack as compose_stack

        lines = compose_stack.cli_action("up", settings)
        return settings, {"compose": lines}

    def stop(self, settings: Settings) -> list[str]:
        import taxilab.resources.compose_stack as compose_stack

        return compose_stack.cli_action("down", settings)

    def up(self, settings: Settings, idle_minutes: float | None = None) -> list[str]:
        import taxilab.resources.compose_stack as compose_stack
        from taxilab.resources.base import ServiceError

        if idle_minutes is not None:
            raise ServiceError(
                "idle control stops the embedded PostgreSQL; on the compose profile stop the stack "
                "with `make down PROFILE=compose`"
            )
        try:
            return compose_stack.cli_action("up", settings)
        except compose_stack.ComposeError as e:
            raise ServiceError(str(e)) from None

    def down(self, settings: Settings) -> list[str]:
        import taxilab.resources.compose_stack as compose_stack
        from taxilab.resources.base import ServiceError

        try:
            return compose_stack.cli_action("down", settings)
        except compose_stack.ComposeError as e:
            raise ServiceError(str(e)) from None

    def status(self, settings: Settings) -> dict[str, Any]:
        return {
            "profile": "compose",
            "endpoints": settings.endpoints,
            "warehouse_dsn": settings.warehouse_dsn,
        }


class ContainerJobs(LabBookmarks):
    """The job scripts run by spark-submit inside the `glue` container, as Glue calls them."""

    kind = "glue-container"

    def __init__(self, settings: Settings):
        self.settings = settings

    def run(self, job: str, argv: list[str], files: list[str] | None = None) -> dict:
        from taxilab.resources.container_jobs import ContainerJobRunner

        if files is not None:
            raise ValueError("the job container runs whole months only (bookmarked file lists are local)")
        return ContainerJobRunner(self.settings).run(f"spark_jobs/jobs/{job}.py", argv[1:])
