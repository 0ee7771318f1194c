"""The command line: help, configuration precedence, errors."""
from conftest import run


def test_every_command_has_help():
    out = run("--help").stdout
    for cmd in ["import", "split", "demo-data", "config"]:
        assert cmd in out
        p = run(cmd, "--help")
        assert "usage: bookrec" in p.stdout, cmd


def test_unknown_command_and_option_fail_clearly():
    p = run("frobnicate", check=False)
    assert p.returncode == 2 and "unknown command" in p.stderr
    p = run("import", "--bogus", "x", check=False)
    assert p.returncode != 0 and "unknown option" in p.stderr


def test_config_precedence_file_env_flag(tmp_path):
    conf = tmp_path / "b.conf"
    conf.write_text("[split]\nseed = 7\ncold_frac = 0.2\n")
    p = run("--config", conf, "config", "show")
    line = next(l for l in p.stdout.splitlines() if l.startswith("split.seed"))
    assert "7" in line and f"file:{conf}" in line
    p = run("--config", conf, "config", "show", env={"BOOKREC_SPLIT_SEED": "8"})
    line = next(l for l in p.stdout.splitlines() if l.startswith("split.seed"))
    assert " 8 " in line and "env:BOOKREC_SPLIT_SEED" in line
    p = run("--config", conf, "--set", "split.seed=9", "config", "show",
            env={"BOOKREC_SPLIT_SEED": "8"})
    line = next(l for l in p.stdout.splitlines() if l.startswith("split.seed"))
    assert " 9 " in line and "flag" in line
    line = next(l for l in p.stdout.splitlines() if l.startswith("split.cold_frac"))
    assert "0.2" in line and "file:" in line
    p = run("config", "show", env={"BOOKREC_DATA": "/somewhere"})
    line = next(l for l in p.stdout.splitlines() if l.startswith("data.dir"))
    assert "/somewhere" in line and "env:BOOKREC_DATA" in line


def test_config_errors_name_the_problem(tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text("[split]\nseed = notanumber\n")
    p = run("--config", conf, "config", "show", check=False)
    assert p.returncode != 0 and ":2: split.seed" in p.stderr
    conf.write_text("no_such.key = 1\n")
    p = run("--config", conf, "config", "show", check=False)
    assert p.returncode != 0 and "no_such.key" in p.stderr
    p = run("config", "show", env={"BOOKREC_SPLIT_COLD_FRAC": "2"}, check=False)
    assert p.returncode != 0 and "BOOKREC_SPLIT_COLD_FRAC" in p.stderr
