"""JSON shapes of the admin's status: the sandbox, the worker and its executors."""

from datetime import datetime

from pydantic import BaseModel, Field

from ganstudio.inference.networks import SandboxStatus
from ganstudio.services.status import SystemStatus
from ganstudio.web.schemas import shaped


class SandboxPublic(BaseModel):
    mode: str = Field(description="GANSTUDIO_SANDBOX: auto or off")
    active: bool | None = Field(description="null until an executor has run its self-test")
    summary: str
    kernel_landlock_abi: int = Field(description="0: this kernel has no Landlock")
    landlock_abi: int | None = Field(description="the ABI the measured executor applied")
    seccomp: bool | None
    checks: dict[str, str] = Field(
        description="what the executor tried and what happened: denied, absent or ALLOWED"
    )
    limits: dict[str, int]
    measured_at: datetime | None


class ExecutorPublic(BaseModel):
    pid: int
    checkpoint_sha256: str
    format: str
    versions: list[str]
    requests: int


class StatusPublic(BaseModel):
    sandbox: SandboxPublic
    worker: str = Field(description="thread: renders in this server; off: a separate worker")
    device: str
    renders_run: int
    queued: int
    running: int
    executors: list[ExecutorPublic]


def sandbox_public(status: SandboxStatus) -> SandboxPublic:
    report = status.report
    return shaped(
        SandboxPublic,
        status,
        landlock_abi=report.landlock_abi if report else None,
        seccomp=report.seccomp if report else None,
        checks=report.checks if report else {},
        limits=report.limits if report else {},
        measured_at=status.measured_at,
    )


def status_public(status: SystemStatus) -> StatusPublic:
    return StatusPublic(
        sandbox=sandbox_public(status.sandbox),
        worker=status.worker_mode,
        device=status.device,
        renders_run=status.renders_run,
        queued=status.queued,
        running=status.running,
        executors=[ExecutorPublic(**vars(e)) for e in status.executors],
    )
