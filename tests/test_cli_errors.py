"""A wrong value on a training command line is argparse's error line and exit 2, not a traceback:
bounds on numbers, sizes the networks can take, data sets that do not exist or do not fit, a
flag of the other model."""

import subprocess
import sys

import pytest

from training.runtime import REPO

DRY = ["--dry-run", "--device", "cpu"]  # were a check missing, a few batches, not a real run
CASES = [
    (["generative", *DRY, "--epochs", "0"], "argument --epochs: must be 1 or more, not 0"),
    (["generative", *DRY, "--depth", "-1"], "argument --depth: must be 0 or more, not -1"),
    (["generative", *DRY, "--ema", "1"], "argument --ema: must be 0 to 0.99999, not 1.0"),
    (["generative", *DRY, "--size", "48"], "argument --size: invalid choice: 48"),
    (["generative", *DRY, "--data", "no/such/set"], "no/such/set: no such file or folder"),
    (["generative", *DRY, "--data", "emoji-faces"], "emoji-faces is 64x64 with 3 channel(s)"),
    (["generative", *DRY, "--generator-filters", "8"], "--generator-filters is for --model gan"),
    (["generative", *DRY, "--model", "gan", "--beta", "2"], "--beta is for --model vae"),
    (["generative-study", *DRY, "--gan-epochs", "-1"], "argument --gan-epochs: must be 1 or"),
    (["split-sweep", *DRY, "--ratios", "2"], "argument --ratios: must be 0.01 to 0.99, not 2.0"),
    (["inception-fid", "exported/none"], "exported/none has no card.json"),
]


NAMES = [" ".join(a for a in argv if a not in DRY) for argv, _ in CASES]


@pytest.mark.parametrize(("argv", "message"), CASES, ids=NAMES)
def test_a_wrong_value_is_an_error_line_and_exit_2(argv, message):
    done = subprocess.run([sys.executable, "-m", "training", *argv], cwd=REPO,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert message in done.stderr.strip().splitlines()[-1]
