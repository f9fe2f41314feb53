"""Run folders claimed by one process at a time (:mod:`coat_tf.claims`)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from coat_tf.claims import CLAIM_FILE, Busy, claim, holder

pytestmark = pytest.mark.skipif(
    sys.platform == "win32", reason="claims guard nothing without fcntl"
)


def test_a_held_folder_is_busy_until_released(tmp_path) -> None:
    run = tmp_path / "runs" / "gmf" / "f8" / "seed0"
    with claim(run):
        assert f"process {os.getpid()}" in (run / CLAIM_FILE).read_text()
        with pytest.raises(Busy, match=f"claimed by process {os.getpid()}"), claim(run):
            pytest.fail("a second claim ran while the first was held")
    assert not (run / CLAIM_FILE).exists()
    with claim(run):  # free again
        pass


def test_a_claim_ends_with_its_block_even_on_an_error(tmp_path) -> None:
    with pytest.raises(RuntimeError), claim(tmp_path):
        raise RuntimeError("the run failed")
    with claim(tmp_path):
        pass


def test_another_process_holds_a_claim_until_it_dies(tmp_path) -> None:
    """The real case: a second process; killed, it leaves no claim behind (the system drops
    its lock), though it could not remove the file."""
    script = textwrap.dedent(
        f"""
        import time
        from coat_tf.claims import claim
        with claim({str(tmp_path)!r}):
            print("held", flush=True)
            time.sleep(120)
        """
    )
    holder = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(Busy, match=f"process {holder.pid} on "), claim(tmp_path):
            pytest.fail("claimed a folder another live process holds")
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert (tmp_path / CLAIM_FILE).exists()  # killed: the file stays, the lock does not
    with claim(tmp_path):
        assert f"process {os.getpid()}" in (tmp_path / CLAIM_FILE).read_text()


def test_holder_names_the_live_holder_without_claiming(tmp_path) -> None:
    run = tmp_path / "run"
    assert holder(run) is None and not run.exists()  # looks, creates nothing
    with claim(run):
        assert holder(run) == f"process {os.getpid()} on {socket.gethostname()}"
        (run / CLAIM_FILE).write_text("")  # a holder that wrote no name yet
        assert holder(run) == "another process"
    run.mkdir(exist_ok=True)
    (run / CLAIM_FILE).write_text("process 1 on gone\n")  # left by a killed process
    assert holder(run) is None
    with claim(run):  # the look took nothing
        pass


def test_a_folder_its_caller_claims_is_not_in_use_for_it(tmp_path: Path) -> None:
    """An experiment claims a run folder, then sets a failed run aside in it: the folder is
    not "in use by a live process" for the caller that holds the claim, and is for others."""
    from coat_tf.runs import RunDirError, prepare_run_dir

    folder = tmp_path / "run"
    with claim(folder):
        assert prepare_run_dir(folder, resume=False, claimed=True) is None
        with pytest.raises(RunDirError, match="is claimed by process"):
            prepare_run_dir(folder, resume=False)
    assert holder(folder) is None and prepare_run_dir(folder, resume=False) is None
