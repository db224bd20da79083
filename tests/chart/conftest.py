"""pytest configuration of the chart and deploy tests.

The chart is rendered by tests/chart/render (Go, Helm's template semantics;
no helm on these machines). `make chart-test` builds it and passes its path
in CHART_RENDER; run alone, the session builds it into a temporary
directory (needs golang-go and the sprig/yaml.v3 Debian packages).
"""
import os
import shutil
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from chartlib import Chart, build_renderer  # noqa: E402


@pytest.fixture(scope="session")
def renderer():
    path = os.environ.get("CHART_RENDER")
    if path:
        assert os.access(path, os.X_OK), f"CHART_RENDER={path} is not executable"
        yield path
        return
    d = tempfile.mkdtemp(prefix="chart-render-")
    try:
        yield build_renderer(os.path.join(d, "render"))
    finally:
        shutil.rmtree(d)


@pytest.fixture
def chart(renderer, tmp_path):
    return Chart(renderer, str(tmp_path))
