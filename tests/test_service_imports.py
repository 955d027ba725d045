"""The serving install has no torch: importing the service must not pull it in."""

import subprocess
import sys


def test_service_imports_neither_torch_nor_training() -> None:
    code = (
        "import sys, service.main, service.__main__; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('torch', 'training')]; "
        "assert not bad, bad"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
