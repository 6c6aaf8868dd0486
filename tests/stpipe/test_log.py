"""Logging configuration: stdout at INFO by default, stpipe-log.cfg and
--logcfg files with pattern sections, handlers, levels and break_level."""

import logging

import pytest

from photoncal.stpipe import LoggedException, Pipeline, Step
from photoncal.stpipe import log as stlog
from photoncal.stpipe.exceptions import ConfigFileError


class ChattyStep(Step):
    class_alias = "chatty_t"
    spec = """
        warn = boolean(default=False)
    """

    def process(self, model):
        self.log.info("chatty info")
        self.log.debug("chatty debug")
        if self.warn:
            self.log.warning("chatty warning")
        logging.getLogger("photoncal.kernels.fake").info("library info")
        return model


class QuietStep(Step):
    class_alias = "quiet_t"

    def process(self, model):
        self.log.info("quiet info")
        return model


class TalkPipeline(Pipeline):
    class_alias = "talk_t"
    step_defs = {"chatty": ChattyStep, "quiet": QuietStep}

    def process(self, model):
        return self.quiet.run(self.chatty.run(model))


def test_default_is_stdout_at_info(fake_model, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    ChattyStep.call(fake_model("a.fits"))
    out = capsys.readouterr().out
    assert "stpipe.chatty_t - INFO - chatty info" in out
    assert "library info" in out
    assert "chatty debug" not in out


def test_stpipe_log_cfg_in_the_working_directory(fake_model, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "stpipe-log.cfg").write_text("[*]\nhandler = file:pipeline.log\nlevel = DEBUG\n")
    ChattyStep.call(fake_model("a.fits"))
    assert capsys.readouterr().out == ""
    text = (tmp_path / "pipeline.log").read_text()
    assert "chatty info" in text and "chatty debug" in text


def test_pattern_sections_most_specific_wins(fake_model, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = tmp_path / "log.cfg"
    cfg.write_text(
        "[*]\nlevel = CRITICAL\nhandler = file:all.log\n\n"
        "[*.chatty]\nlevel = INFO\nhandler = \"file:chatty.log, append:both.log\"\n"
        "format = %(levelname)s|%(name)s|%(message)s\n"
    )
    TalkPipeline.call(fake_model("a.fits"), logcfg=str(cfg))
    chatty = (tmp_path / "chatty.log").read_text().splitlines()
    assert "INFO|stpipe.talk_t.chatty|chatty info" in chatty
    assert not any("quiet" in line for line in chatty)
    assert not (tmp_path / "all.log").exists()  # everything else is below CRITICAL: nothing written
    assert (tmp_path / "both.log").read_text().splitlines() == chatty
    TalkPipeline.call(fake_model("a.fits"), logcfg=str(cfg))
    assert len((tmp_path / "both.log").read_text().splitlines()) == 2 * len(chatty)  # append:


def test_break_level_raises(fake_model, tmp_path):
    cfg = tmp_path / "log.cfg"
    cfg.write_text("[*]\nlevel = INFO\nhandler = null\n[*.chatty_t]\nbreak_level = WARNING\nhandler = null\n")
    ChattyStep.call(fake_model("a.fits"), logcfg=str(cfg))
    with pytest.raises(LoggedException, match="chatty warning"):
        ChattyStep.call(fake_model("a.fits"), logcfg=str(cfg), warn=True)


def test_configuration_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.cfg"
    bad.write_text("[*]\nlevel = LOUD\n")
    with pytest.raises(ConfigFileError, match=r"bad.cfg, section \[\*\]: unknown log level 'LOUD'"):
        stlog.LogConfig.from_file(bad)
    bad.write_text("[*]\ncolour = red\n")
    with pytest.raises(ConfigFileError, match="unknown key 'colour'"):
        stlog.LogConfig.from_file(bad)
    bad.write_text("[*]\nhandler = syslog\n")
    with pytest.raises(ConfigFileError, match="unknown handler 'syslog'"):
        stlog.LogConfig.from_file(bad).apply()
    with pytest.raises(ConfigFileError, match="not found"):
        stlog.find_log_config_file(tmp_path / "absent.cfg")


def test_configure_for_the_process_is_kept_by_steps(fake_model, tmp_path, capsys):
    cfg = tmp_path / "log.cfg"
    cfg.write_text(f"[*]\nhandler = file:{tmp_path / 'session.log'}\nlevel = INFO\n")
    config = stlog.configure(cfg)
    try:
        ChattyStep.call(fake_model("a.fits"))
        QuietStep.call(fake_model("a.fits"))
    finally:
        config.undo()
    text = (tmp_path / "session.log").read_text()
    assert "chatty info" in text and "quiet info" in text
    assert capsys.readouterr().out == ""
    assert stlog.applied() is None
    assert logging.getLogger("stpipe").handlers == []


def test_logcfg_named_in_a_step_cfg(fake_model, tmp_path, monkeypatch):
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "log.cfg").write_text(f"[*]\nhandler = file:{tmp_path / 'from_cfg.log'}\nlevel = INFO\n")
    (tmp_path / "conf" / "chatty.cfg").write_text("class = chatty_t\nlogcfg = log.cfg\n")
    monkeypatch.chdir(tmp_path)
    ChattyStep.call(fake_model("a.fits"), config_file=str(tmp_path / "conf" / "chatty.cfg"))
    assert "chatty info" in (tmp_path / "from_cfg.log").read_text()
