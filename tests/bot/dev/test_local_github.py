"""`gobot local`'s `deploy ENV`: a signed GitHub webhook into the local gobot, and the answer
GitHub receives shown when it comes; the CLI as a subprocess, with a script."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.bot.dev.test_local import FAST, local


def test_deploy_waits_for_a_session_and_its_answer_shows_once_a_start_lets_it_go(
    tmp_path: Path,
) -> None:
    result = local(
        tmp_path,
        "deploy production\n/go-start release\nwait 2s\ndeploy staging\ndeploy qa\n"
        "deploy\n/go-end done\nexit\n",
        **FAST,
    )
    out = result.stdout
    asked = re.search(r"about the deploy of (acme/shop@[0-9a-f]{7}) to production: HTTP 202", out)
    assert asked is not None, out
    deploy = asked.group(1)
    waiting = f"Deploy of {deploy} to production is waiting for a GO session."
    assert f"[#local] [message 1]\n  :hourglass: {waiting}\n" in out
    assert "  (1) Start session\n" in out
    before_start = out.split("> /go-start release")[0]
    assert "[GitHub receives]" not in before_start  # it waits

    approved = f"[GitHub receives] the deploy of {deploy} to production: approved: GO session"
    assert out.count(approved) == 1, out
    assert out.index(approved) > out.index("> /go-start release")
    assert (
        f"[#local, message updated]\n  :white_check_mark: *Deploy of {deploy} to production "
        "approved:*" in out
    )
    assert re.search(r"\[GitHub receives\] the deploy of acme/shop@\w{7} to staging: approved", out)
    assert re.search(
        r"\[GitHub receives\] the deploy of acme/shop@\w{7} to qa: rejected: gobot gates no "
        r"environment named qa: add it to GOBOT_GITHUB_ENVIRONMENTS",
        out,
    )
    assert "! Usage: deploy ENV (the demo gates production and staging)" in out
    assert result.returncode == 1 and "gobot: 1 command(s) failed" in result.stderr
    assert "Traceback" not in out + result.stderr and "Warning" not in result.stderr

    state = tmp_path / "data" / "local"
    answered = json.loads((state / "go_deployments_answered.json").read_text())
    assert sorted(d["environment"] for d in answered.values()) == ["production", "qa", "staging"]
