"""Sweeps with Optuna: specs, the run store, worker processes, pruning, dead workers, PostgreSQL.

The sweeps here are real: ``tui-trainer sweep`` in a subprocess, its workers
real processes training tiny PyTorch runs, the study in a real journal file or
a real PostgreSQL server started (and removed) by the test itself.  What they
did is read back through Optuna's own API, not through ours.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, run_cli
from tui_trainer.core.errors import ConfigError
from tui_trainer.runs.sweep import ParamSpec, StorageRef, load_plan, mask_url, parse_param, set_line

SECRET = "pa55-w0rd!zz"
TORCH = ("--backend", "torch")


# -- specs (core tier: no framework, no Optuna) ---------------------------------------------------

def test_specs_parse_every_kind():
    assert parse_param("train.learning_rate=log:0.001..0.3") == ParamSpec("train.learning_rate", "log", 0.001, 0.3)
    assert parse_param("data.noise=float:0..0.5") == ParamSpec("data.noise", "float", 0.0, 0.5)
    assert parse_param("train.batch_size=int:8..64") == ParamSpec("train.batch_size", "int", 8, 64)
    spec = parse_param("model.hidden=choice:[3,3],[8,8],[16,16]")
    assert spec.choices == ([3, 3], [8, 8], [16, 16])
    assert parse_param("model.activation=choice:relu,tanh").choices == ("relu", "tanh")
    assert spec.text() == "model.hidden=choice:[3,3],[8,8],[16,16]"
    assert set_line({"train.learning_rate": 0.0123456789, "model.hidden": "[8,8]"}) == \
        "--set train.learning_rate=0.0123457 --set model.hidden=[8,8]"


@pytest.mark.parametrize(("param", "fragment"), [
    ("train.learning_rate", "FIELD=KIND:SPEC"),
    ("train.lr=log:0.1..1", "unknown key"),
    ("train.learning_rate=log:0..1", "LOW > 0"),
    ("train.learning_rate=flot:1..2", "must start with one of"),
    ("train.learning_rate=float:0.3..0.1", "LOW must be below HIGH"),
    ("train.batch_size=int:1.5..8", "not a whole number"),
    ("train.batch_size=int:0..64", "0 is not allowed"),
    ("model.activation=choice:relu,tanhh", "did you mean 'tanh'"),
    ("model.hidden=choice:[3,3],[8,x]", "[8,x] is not allowed"),
    ("model.activation=choice:", "needs values"),
    ("model.activation=choice:relu,relu", "twice"),
    ("train.learning_rate=log:nan..1", "finite"),
])
def test_bad_specs_are_one_line_errors(param, fragment):
    with pytest.raises(ConfigError) as info:
        load_plan("circle", params=[param])
    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_sweep_table_in_a_preset_and_the_command_line_wins(tmp_path):
    preset = tmp_path / "p.toml"
    preset.write_text('extends = "circle"\n[sweep]\nmetric = "val_acc"\ntrials = 7\n'
                      '[sweep.params]\n"train.learning_rate" = "log:0.001..0.3"\n'
                      '[sweep.params.model]\nactivation = "choice:relu,tanh"\n')
    plan = load_plan(str(preset))
    assert (plan.metric, plan.direction, plan.trials) == ("val_acc", "maximize", 7)
    assert [p.field for p in plan.params] == ["train.learning_rate", "model.activation"]
    plan = load_plan(str(preset), params=["model.activation=choice:sigmoid,relu"], trials=3)
    assert plan.params[1].choices == ("sigmoid", "relu") and plan.trials == 3
    # The preset still trains on its own: the [sweep] table is not a config field.
    assert run_cli("--preset", str(preset), "--show-config").returncode == 0
    preset.write_text('[sweep]\ntrails = 3\n')
    with pytest.raises(ConfigError, match="did you mean 'trials'"):
        load_plan(str(preset), params=["train.learning_rate=log:0.01..0.1"])


def test_passwords_are_masked_and_come_from_env_or_file(tmp_path, monkeypatch):
    assert mask_url(f"postgresql://bob:{SECRET}@db:5432/x") == "postgresql://bob:***@db:5432/x"
    monkeypatch.setenv("TUI_TRAINER_STORAGE_PASSWORD", SECRET)
    ref = StorageRef.resolve("postgresql://bob@db/x")
    assert SECRET not in ref.masked and SECRET not in repr(ref) and "bob" in ref.masked
    assert ref.url.startswith("postgresql+psycopg://bob:") and ref.scrub(f"oops {SECRET}") == "oops ***"
    secret_file = tmp_path / "pw"
    secret_file.write_text("from-file\n")
    ref = StorageRef.resolve("postgresql://bob@db/x", password_file=str(secret_file))
    assert ref.password == "from-file" and "from-file" not in ref.masked


@pytest.mark.parametrize("args", [
    ["sweep", "--param", "train.learning_rate=log:0..1"],
    ["sweep"],
    ["sweep", "--param", "train.learning_rate=log:0.01..1", "--metric", "val_mse"],
    ["sweep", "--param", "train.learning_rate=log:0.01..1", "--pruner", "medain"],
    ["sweep", "--param", "train.learning_rate=log:0.01..1", "--trials", "0"],
    ["sweep", "--param", "train.learning_rate=log:0.01..1", "--jobs", "0"],
    ["sweep", "--param", "train.learning_rate=log:0.01..1", "--storage", "redis://x"],
    ["sweep", "--bogus"],
])
def test_bad_sweeps_exit_2_with_one_line_and_import_nothing_heavy(args):
    probe = ("import sys, json\nfrom tui_trainer.cli import main\n"
             "try:\n    code = main(json.loads(sys.argv[1]))\nexcept SystemExit as exc:\n    code = exc.code\n"
             "heavy = [m for m in ('optuna', 'torch', 'tensorflow', 'sqlalchemy', 'textual') if m in sys.modules]\n"
             "print('PROBE', json.dumps([code, heavy]))\n")
    r = subprocess.run([sys.executable, "-c", probe, json.dumps(args)], capture_output=True, text=True, cwd=REPO,
                       timeout=60)
    code, heavy = json.loads(r.stdout.strip().splitlines()[-1][len("PROBE "):])
    assert code == 2, r.stderr
    assert r.stderr.startswith("tui-trainer") and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert heavy == []


def test_help_is_cheap():
    r = run_cli("sweep", "--help")
    assert r.returncode == 0 and "choice:relu,tanh" in r.stdout and "PGPASSWORD" in r.stdout


# -- sweeps that train (torch) ---------------------------------------------------------------------

def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"TUI_TRAINER_RUNS": str(tmp_path / "runs"), **extra}


def _study(tmp_path: Path, name: str, storage: str | None = None):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if storage is None:
        from optuna.storages.journal import JournalFileBackend

        storage = optuna.storages.JournalStorage(
            JournalFileBackend(str(tmp_path / "runs" / ".sweeps" / "journal.log")))
    return optuna.load_study(study_name=name, storage=storage)


def _states(study) -> dict[str, int]:
    out: dict[str, int] = {}
    for t in study.get_trials(deepcopy=False):
        out[t.state.name] = out.get(t.state.name, 0) + 1
    return out


def _trial_lines(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith("trial ")]


def _sweep(*args: str) -> list[str]:
    return ["sweep", *TORCH, "--param", "train.learning_rate=log:0.003..0.3", *args]


@pytest.mark.framework
def test_two_workers_run_exactly_the_asked_trials_once_each(tmp_path):
    # 1,000 epochs a trial (~0.5 s): short enough trials let the first worker take all five before the
    # second has imported torch (seen on CI once epochs got twice as fast).
    r = run_cli(*_sweep("--param", "model.hidden=choice:[3,3],[8,8]", "--epochs", "1000", "--trials", "5",
                        "--jobs", "2", "--study", "two", "--pruner", "none"), env=_env(tmp_path))
    assert r.returncode == 0, r.stderr
    study = _study(tmp_path, "two")
    finished = [t for t in study.get_trials(deepcopy=False) if t.state.name in ("COMPLETE", "PRUNED")]
    assert len(finished) == 5 and len({t.number for t in finished}) == 5
    assert [t for t in study.get_trials(deepcopy=False) if t.state.name in ("RUNNING", "WAITING")] == []
    # Two worker processes shared the work, each trial is one run folder in the run store.
    assert len({t.user_attrs["pid"] for t in finished}) == 2
    folders = sorted(p for p in (tmp_path / "runs").iterdir() if not p.name.startswith("."))
    assert sorted(Path(t.user_attrs["run_dir"]) for t in finished) == [f.resolve() for f in folders]
    for t in finished:
        folder = Path(t.user_attrs["run_dir"])
        assert json.loads((folder / "study.json").read_text())["sweep"]["trial"] == t.number
        epochs = [json.loads(x) for x in (folder / "history.jsonl").read_text().splitlines()]
        assert sum(e["kind"] == "epoch_ended" for e in epochs) == 1000
        assert t.value == pytest.approx(min(e["val_loss"] for e in epochs if e["kind"] == "epoch_ended"), rel=1e-5)
    assert study.user_attrs["metric"] == "val_loss" and study.user_attrs["direction"] == "minimize"
    # 1,000 epochs: every 10th epoch reported (at most 100 reports a trial), the same epochs for every trial.
    assert study.user_attrs["report_every"] == 10
    assert all(sorted(t.intermediate_values) == list(range(10, 1001, 10)) for t in finished)
    # One line per finished trial, then the best as --set options.
    lines = _trial_lines(r.stdout)
    assert len(lines) == 5 and all(" s  learning_rate=" in line for line in lines)
    best = study.best_trial
    assert f"best: trial {best.number}, val_loss" in r.stdout
    assert f"--set train.learning_rate={best.params['train.learning_rate']:.6g}" in r.stdout
    # sweep show reads the same study from the storage; runs lists the trials.
    show = run_cli("sweep", "show", "two", env=_env(tmp_path))
    assert show.returncode == 0 and f"best: trial {best.number}" in show.stdout
    assert sum(1 for line in show.stdout.splitlines() if " COMPLETE " in line) == 5


@pytest.mark.framework
def test_median_pruner_prunes_hopeless_trials_and_runs_say_pruned(tmp_path):
    # Half the trials can't learn in 30 epochs (learning rate 1e-5): once a good one has finished,
    # the median pruner stops every hopeless one after its warm-up.
    r = run_cli("sweep", *TORCH, "--param", "train.learning_rate=choice:0.3,0.00001", "--epochs", "30",
                "--trials", "8", "--sampler", "random", "--sampler-seed", "2", "--study", "prune",
                "--pruner", "median:n_startup_trials=1,n_warmup_steps=5", "--save-best", "best-lr",
                env=_env(tmp_path))
    assert r.returncode == 0, r.stderr
    study = _study(tmp_path, "prune")
    pruned = [t for t in study.get_trials(deepcopy=False) if t.state.name == "PRUNED"]
    assert pruned, r.stdout
    for t in pruned:
        assert t.params["train.learning_rate"] == 0.00001
        state = json.loads((Path(t.user_attrs["run_dir"]) / "state.json").read_text())
        assert state["state"] == "pruned" and 5 <= state["epochs_done"] < 30
    listed = run_cli("runs", "--json", "--state", "pruned", env=_env(tmp_path))
    assert {json.loads(x)["folder"] for x in listed.stdout.splitlines()} == \
        {t.user_attrs["run_dir"] for t in pruned}
    assert sum("PRUNED" in line for line in _trial_lines(r.stdout)) == len(pruned)
    # --save-best: a preset that trains the best trial again.
    saved = run_cli("--preset", "best-lr", "--show-config")
    assert saved.returncode == 0 and "learning_rate = 0.3" in saved.stdout


@pytest.mark.framework
def test_a_killed_worker_fails_its_trial_and_the_sweep_completes(tmp_path):
    # Trials of ~2 s, so the poller below finds one running: at 300 epochs a trial took ~0.2 s once
    # epochs got twice as fast, about the poller's own step.
    proc = subprocess.Popen([sys.executable, "-m", "tui_trainer", *_sweep(
        "--epochs", "3000", "--trials", "3", "--jobs", "2", "--study", "kill", "--pruner", "none")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
        env={**os.environ, **_env(tmp_path)})
    try:
        victim = None
        deadline = time.monotonic() + 120
        while victim is None and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
            if not (tmp_path / "runs" / ".sweeps" / "journal.log").exists():
                continue
            running = [t for t in _study(tmp_path, "kill").get_trials(deepcopy=False)
                       if t.state.name == "RUNNING" and len(t.intermediate_values) >= 3]
            victim = running[0] if running else None
        assert victim is not None, "no trial got going"
        os.kill(victim.user_attrs["pid"], signal.SIGKILL)
        out, err = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    study = _study(tmp_path, "kill")
    trials = {t.number: t for t in study.get_trials(deepcopy=False)}
    assert trials[victim.number].state.name == "FAIL"
    retry = [t for t in trials.values() if t.system_attrs.get("failed_trial") == victim.number]
    assert len(retry) == 1 and retry[0].params == victim.params  # Optuna's retry of the failed trial
    assert sum(t.state.name in ("COMPLETE", "PRUNED") for t in trials.values()) == 3
    assert f"was killed (SIGKILL); its trial {victim.number} failed" in err
    # The dead trial's run folder reads as interrupted, as any SIGKILLed run does.
    runs = {json.loads(x)["folder"]: json.loads(x) for x in
            run_cli("runs", "--json", env=_env(tmp_path)).stdout.splitlines()}
    assert runs[victim.user_attrs["run_dir"]]["state"] == "interrupted"


@pytest.mark.framework
def test_a_retry_queued_when_enough_trials_count_still_gets_a_worker(tmp_path):
    # The race CI met: a worker dies while the other has already started the last trial, so the dead
    # trial's retry waits in a study whose counted trials (done, running, waiting) reach --trials.
    # The worker started again for it must take it, not see "enough trials" and leave.
    args = _sweep("--epochs", "5", "--study", "retry", "--pruner", "none")
    assert run_cli(*args, "--trials", "2", env=_env(tmp_path)).returncode == 0
    study = _study(tmp_path, "retry")
    study.enqueue_trial({"train.learning_rate": 0.05})
    r = run_cli(*args, "--trials", "3", env=_env(tmp_path))
    assert r.returncode == 0, r.stderr
    trials = _study(tmp_path, "retry").get_trials(deepcopy=False)
    assert [t.state.name for t in trials] == ["COMPLETE"] * 3
    assert trials[2].params == {"train.learning_rate": 0.05}
    assert any(line.startswith("trial   2  COMPLETE") for line in _trial_lines(r.stdout))


@pytest.mark.framework
def test_ctrl_c_stops_every_worker_and_the_same_study_goes_on(tmp_path):
    # Long trials (stopped by the Ctrl-C long before they end), so the trial seen running still is.
    args = _sweep("--epochs", "8000", "--trials", "3", "--jobs", "2", "--study", "stop", "--pruner", "none")
    proc = subprocess.Popen([sys.executable, "-m", "tui_trainer", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=REPO, env={**os.environ, **_env(tmp_path)})
    try:
        deadline = time.monotonic() + 120
        running: list = []
        while not running and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
            if (tmp_path / "runs" / ".sweeps" / "journal.log").exists():
                running = [t for t in _study(tmp_path, "stop").get_trials(deepcopy=False)
                           if t.state.name == "RUNNING" and t.intermediate_values]
        assert running, "no trial got going"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    assert "--study stop" in err and "Traceback" not in err
    trials = _study(tmp_path, "stop").get_trials(deepcopy=False)
    stopped = [t for t in trials if t.state.name == "FAIL"]
    assert {t.number for t in running} <= {t.number for t in stopped}
    assert [t.state.name for t in trials if t not in stopped] in ([], ["COMPLETE"])  # none left running
    for t in stopped:  # its run stopped after a batch and kept what it ran (before its first epoch: nothing)
        assert "interrupted at epoch" in t.user_attrs["error"]
        if t.user_attrs["run_dir"] is None:
            assert t.user_attrs["error"] == "interrupted at epoch 0" and t.number not in {r.number for r in running}
        else:
            assert json.loads((Path(t.user_attrs["run_dir"]) / "state.json").read_text())["state"] == "stopped"
    for pid in {t.user_attrs["pid"] for t in trials}:  # every worker has gone
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    again = run_cli(*_sweep("--epochs", "5", "--trials", "3", "--study", "stop"), env=_env(tmp_path))
    assert again.returncode == 0, again.stderr
    assert sum(t.state.name == "COMPLETE" for t in _study(tmp_path, "stop").get_trials(deepcopy=False)) == 3


@pytest.mark.framework
def test_bad_data_stops_the_sweep_with_one_line_and_no_run_folders(tmp_path):
    r = run_cli("sweep", "--preset", "csv", *TORCH, "--set", f"data.path={tmp_path / 'missing.csv'}",
                "--param", "train.learning_rate=log:0.01..0.1", "--trials", "3", "--jobs", "2", env=_env(tmp_path))
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "missing.csv" in r.stderr, r.stderr
    assert [p.name for p in (tmp_path / "runs").iterdir()] == [".sweeps"]


# -- PostgreSQL: a real server, started and removed here -------------------------------------------

def _pg_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def postgres():
    """A throwaway cluster: initdb as an unprivileged user (it refuses root), a free port, removed after."""
    bindir = _pg_bin()
    if bindir is None:
        pytest.skip("PostgreSQL's initdb is not installed (Debian: apt-get install postgresql; .ci/run does)")
    # Straight under the temp folder: pytest's own folders are root's alone, and the server's user must get in.
    root = Path(tempfile_dir := tempfile.mkdtemp(prefix="tui-trainer-pg-"))
    prefix: list[str] = []
    if os.geteuid() == 0:
        user = "postgres" if _user_exists("postgres") else "nobody"
        prefix = ["runuser", "-u", user, "--"]
        shutil.chown(root, user)
        os.chmod(root, 0o700)
    pwfile = root / "pw"
    pwfile.write_text(SECRET + "\n")
    if prefix:
        shutil.chown(pwfile, prefix[2])
    data, port = root / "data", _free_port()

    def run(*cmd: str) -> None:
        r = subprocess.run([*prefix, *cmd], capture_output=True, text=True, timeout=120, cwd=tempfile_dir)
        assert r.returncode == 0, f"{cmd[0]}: {r.stdout}{r.stderr}"

    run(str(bindir / "initdb"), "-D", str(data), "-U", "sweeper", "--auth=scram-sha-256", f"--pwfile={pwfile}",
        "--no-sync")
    run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w", "-t", "60", "-o",
        f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off", "start")
    try:
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=port, user="sweeper", password=SECRET, dbname="postgres",
                             autocommit=True) as conn:
            conn.execute("CREATE DATABASE sweeps")
        yield f"postgresql://sweeper@127.0.0.1:{port}/sweeps"
    finally:
        subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                       capture_output=True, timeout=60, cwd=tempfile_dir)
        shutil.rmtree(root, ignore_errors=True)
    assert not root.exists()


def _user_exists(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


@pytest.mark.framework
def test_two_machines_share_one_study_in_postgresql_and_the_password_never_shows(tmp_path, postgres):
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET + "\n")
    common = _sweep("--epochs", "30", "--trials", "6", "--study", "shared", "--storage", postgres,
                    "--pruner", "none")
    env = {**os.environ, **_env(tmp_path)}
    # Two "machines": two separate sweep commands, one password from a file, the other from the environment.
    first = subprocess.Popen([sys.executable, "-m", "tui_trainer", *common, "--storage-password-file",
                              str(secret_file)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             cwd=REPO, env=env)
    second = subprocess.Popen([sys.executable, "-m", "tui_trainer", *common], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, cwd=REPO,
                              env={**env, "TUI_TRAINER_STORAGE_PASSWORD": SECRET})
    outputs = [p.communicate(timeout=300) for p in (first, second)]
    assert first.returncode == 0 and second.returncode == 0, outputs
    ref = StorageRef.resolve(postgres, password_file=str(secret_file))
    study = _study(tmp_path, "shared", storage=ref.url)
    finished = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    assert len(finished) == 6 and len({t.number for t in finished}) == 6
    assert len({t.user_attrs["pid"] for t in finished}) == 2  # both commands trained trials
    show = run_cli("sweep", "show", "shared", "--storage", postgres, env={**_env(tmp_path),
                                                                        "PGPASSWORD": SECRET})
    assert show.returncode == 0 and "sweeper:***@" not in show.stdout and "postgresql://sweeper@" in show.stdout
    assert sum(" COMPLETE " in line for line in show.stdout.splitlines()) == 6
    seen = "".join(o + e for o, e in outputs) + show.stdout + show.stderr
    for path in (tmp_path / "runs").rglob("*"):
        if path.is_file():
            seen += path.read_bytes().decode("utf-8", "replace")
    assert SECRET not in seen
    # Wrong password: one line, the URL masked.
    bad = run_cli(*common, env={**_env(tmp_path), "TUI_TRAINER_STORAGE_PASSWORD": "wrong-" + SECRET})
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1, bad.stderr
    assert "postgresql://sweeper@127.0.0.1" in bad.stderr and SECRET not in bad.stderr + bad.stdout


def _on_host(name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen:
    """A sweep command as if on another machine: its own UTS namespace, so its own host name."""
    cmd = ["unshare", "--uts", "sh", "-c", f'hostname {name} && exec "$0" "$@"', sys.executable, "-m",
           "tui_trainer", *args]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env=env)


@pytest.mark.framework
def test_a_dead_machines_trial_is_failed_by_optunas_heartbeat_and_retried_elsewhere(tmp_path, postgres):
    probe = subprocess.run(["unshare", "--uts", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("needs a UTS namespace (unshare --uts, as root) to run a worker under another host name")
    env = {**os.environ, **_env(tmp_path), "TUI_TRAINER_STORAGE_PASSWORD": SECRET}
    common = [*_sweep("--trials", "2", "--study", "heartbeat", "--storage", postgres, "--pruner", "none",
                      "--heartbeat", "1")]
    box1 = _on_host("box1", [*common, "--epochs", "5000"], env)
    url = postgres.replace("postgresql://sweeper@", f"postgresql+psycopg://sweeper:{SECRET}@")
    try:
        deadline, victim = time.monotonic() + 120, None
        while victim is None and time.monotonic() < deadline and box1.poll() is None:
            time.sleep(0.3)
            with contextlib.suppress(KeyError):
                running = [t for t in _study(tmp_path, "heartbeat", storage=url).get_trials(deepcopy=False)
                           if t.state.name == "RUNNING" and t.intermediate_values]
                victim = running[0] if running else None
        assert victim is not None and victim.user_attrs["host"] == "box1", "box1's trial did not get going"
        # box1 is lost whole: its sweep command first (nothing left there to notice), then its worker.
        box1.kill()
        os.kill(victim.user_attrs["pid"], signal.SIGKILL)
        box1.communicate()
        time.sleep(2.5)  # longer than the grace period (twice the heartbeat): the trial's heartbeat is stale
        box2 = _on_host("box2", [*common, "--epochs", "10"], env)
        out, err = box2.communicate(timeout=180)
    finally:
        for proc in (box1, locals().get("box2")):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert box2.returncode == 0, err
    trials = {t.number: t for t in _study(tmp_path, "heartbeat", storage=url).get_trials(deepcopy=False)}
    assert trials[victim.number].state.name == "FAIL"  # failed by Optuna's heartbeat check on box2
    retry = [t for t in trials.values() if t.system_attrs.get("failed_trial") == victim.number]
    assert len(retry) == 1 and retry[0].state.name == "COMPLETE" and retry[0].user_attrs["host"] == "box2"
    assert retry[0].params == victim.params
    assert sum(t.state.name == "COMPLETE" for t in trials.values()) == 2
