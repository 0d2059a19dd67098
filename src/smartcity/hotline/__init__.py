"""The 12345 citizen hotline (政务服务便民热线): work orders on the case engine."""

from __future__ import annotations

from smartcity.core.module import Module

MODULE = Module(name="hotline")
