"""The compatibility harness under pytest (make compat): the integration suite's fixtures, so the
replay runs against a fresh real cluster (ring, 3 nodes, gateway) from $ONGGI_BIN."""

import importlib.util
import os
import sys

_here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, _here)
_spec = importlib.util.spec_from_file_location(
    "onggi_integration_conftest", os.path.join(_here, "..", "integration", "conftest.py"))
_it = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = _it
_spec.loader.exec_module(_it)

# Re-exported: pytest registers the fixtures and the hook found in a conftest's namespace.
cluster = _it.cluster
pytest_runtest_makereport = _it.pytest_runtest_makereport
ACCESS, SECRET, ACCOUNT = _it.ACCESS, _it.SECRET, _it.ACCOUNT
