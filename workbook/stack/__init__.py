"""The embedded stack: Java, the Tansu broker, PostgreSQL, a Flink session
cluster and the background trade stream, started and stopped as local
processes (`python -m workbook up | down | status | logs`); under STACK=docker,
the Docker stack's services checked where they are published (stack/docker.py).

Uses only the bottom of the package (`workbook.config`, `workbook.kafka`).
"""

from .control import down, format_status, health_frame, services, status, up
from .services import ServiceError, Status

__all__ = ["up", "down", "status", "services", "format_status", "health_frame", "ServiceError", "Status"]
