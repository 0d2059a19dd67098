"""Periodic jobs of public participation: closing drafts whose window has ended."""

from __future__ import annotations

from smartcity.core.module import Job
from smartcity.participation import service

# Every minute: a window ends at a minute (the pages take dates and times to the minute);
# posting checks the end instant itself, so a late run never lets a comment in.
JOBS = [Job("participation.windows.close", 60, service.close_due_job)]
