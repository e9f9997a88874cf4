"""The ``finops`` entry point: logging never leaks AWS secrets; SIGTERM/SIGHUP unwind like Ctrl-C."""

import logging
import os
import signal

import pytest

from finops_lib import cli

SESSION_TOKEN = "FAKESESSIONTOKEN0123456789"
AWS_LOGGERS = ("botocore", "boto3", "urllib3")


@pytest.fixture
def fresh_logging(monkeypatch):
    """Logger levels restored after a test that runs ``main`` (which configures logging)."""
    monkeypatch.setattr(logging.getLogger(), "level", logging.WARNING)
    for name in ("finops_lib", *AWS_LOGGERS):
        logger = logging.getLogger(name)
        monkeypatch.setattr(logger, "level", logger.level)
    logging.Logger.manager._clear_cache()
    yield
    logging.Logger.manager._clear_cache()


def _with_command(monkeypatch, func):
    """Make ``main`` parse ``-v run`` into ``func`` (instead of a real, slow subcommand)."""
    real_build = cli.build_parser

    def build():
        parser = real_build()
        sub = next(a for a in parser._actions if a.dest == "command")
        sub.add_parser("run").set_defaults(func=func)
        return parser

    monkeypatch.setattr(cli, "build_parser", build)


def test_verbose_logs_finops_debug_but_never_the_aws_session_token(monkeypatch, capsys, fresh_logging):
    import boto3
    from moto import mock_aws

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFAKEKEYID0000000")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "fakesecretaccesskey")
    monkeypatch.setenv("AWS_SESSION_TOKEN", SESSION_TOKEN)

    def run(args):
        logging.getLogger("finops_lib.collect").debug("finops debug line")
        with mock_aws():
            boto3.Session(region_name="eu-central-1").client("ec2").describe_instances()
        return 0

    _with_command(monkeypatch, run)
    # as in a real `finops` process: no handler on the root logger yet (pytest adds its own for the call)
    monkeypatch.setattr(logging.getLogger(), "handlers", [])
    assert cli.main(["-v", "run"]) == 0
    err = capsys.readouterr().err
    assert "DEBUG finops_lib.collect: finops debug line" in err  # -v works for our code
    assert SESSION_TOKEN not in err and "fakesecretaccesskey" not in err
    assert "DEBUG botocore" not in err


def test_sigterm_raises_systemexit_and_unwinds_context_managers(monkeypatch):
    import time

    unwound = []

    class Server:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            unwound.append(exc[0])

    def run(args):
        with Server():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(2)  # the handler interrupts this
            pytest.fail("SIGTERM did not interrupt the command")

    def guard(signum, frame):  # stands in for the default action (terminate) if main installs nothing
        raise AssertionError("main installed no SIGTERM handler")

    _with_command(monkeypatch, run)
    original = signal.signal(signal.SIGTERM, guard)
    try:
        with pytest.raises(SystemExit) as info:
            cli.main(["run"])
        assert signal.getsignal(signal.SIGTERM) is guard  # previous handler restored after main
    finally:
        signal.signal(signal.SIGTERM, original)
    assert info.value.code == 128 + signal.SIGTERM == 143
    assert unwound == [SystemExit]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_exit_signal_handler_raises_systemexit(signum):
    with pytest.raises(SystemExit) as info:
        cli._exit_on_signal(signum, None)
    assert info.value.code == 128 + signum


def test_evaluate_list_with_broken_yaml_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "broken.yaml").write_text("notebook: [unclosed\n")
    assert cli.main(["evaluate", "--list", "--experiments", str(tmp_path)]) == 2
    assert "error:" in capsys.readouterr().err

    (tmp_path / "broken.yaml").write_text("notebook: x\nsnapshot: {source: ftp}\n")
    assert cli.main(["evaluate", "--list", "--experiments", str(tmp_path)]) == 2
    assert "'ftp'" in capsys.readouterr().err
