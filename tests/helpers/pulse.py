"""A private PulseAudio daemon with a virtual speaker and microphone, for device-path tests.

This VM has no sound card (no ``/dev/snd``), so the real PortAudio path is tested against a
PulseAudio null sink. The recipe (measured on Debian 12, pulseaudio 16.1, sounddevice 0.5.6 /
PortAudio 19.6)::

    apt-get install -y --no-install-recommends pulseaudio pulseaudio-utils libasound2-plugins

    # vmic.pa
    load-module module-native-protocol-unix auth-anonymous=1 socket=$XDG_RUNTIME_DIR/pulse/native
    load-module module-null-sink sink_name=vspk norewinds=1 rate=16000 channels=1
    load-module module-remap-source source_name=vmic master=vspk.monitor
    set-default-sink vspk
    set-default-source vmic

    export XDG_RUNTIME_DIR=<a temp dir> HOME=<a temp dir>
    mkdir -p $XDG_RUNTIME_DIR/pulse; chmod 700 $XDG_RUNTIME_DIR
    pulseaudio -n -F vmic.pa --daemonize=yes --exit-idle-time=-1 --log-target=file:<tmp>/pa.log

- Clients need that ``XDG_RUNTIME_DIR`` or ``PULSE_SERVER=unix:$XDG_RUNTIME_DIR/pulse/native``;
  PortAudio (through the ALSA pulse plugin) then lists the devices ``pulse`` and ``default``.
  Whatever is played to ``pulse`` is heard on the monitor, which is recorded from ``pulse``.
- PortAudio enumerates devices once, when it initialises: start the daemon first, then
  re-initialise it (``sd._terminate(); sd._initialize()``).
- ``norewinds=1`` is required: without it the monitor starves while idle, the first callback
  comes 1-2 s late and recordings are garbled.
- Stop the daemon by its PID; a killed daemon can stay as a harmless zombie in a container.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

VMIC_PA = """\
load-module module-native-protocol-unix auth-anonymous=1 socket={socket}
load-module module-null-sink sink_name=vspk norewinds=1 rate=16000 channels=1
load-module module-remap-source source_name=vmic master=vspk.monitor
set-default-sink vspk
set-default-source vmic
"""
#: The environment variables a PulseAudio client needs to find the private daemon.
CLIENT_VARS = ("XDG_RUNTIME_DIR", "HOME", "PULSE_SERVER")


@dataclass(frozen=True)
class PulseDaemon:
    """A running private daemon."""

    pid: int
    socket: Path
    log: Path
    env: dict[str, str]


def pulseaudio_binary() -> str | None:
    return shutil.which("pulseaudio")


@contextmanager
def pulse_daemon(root: Path) -> Iterator[PulseDaemon]:
    """Start a private daemon under ``root``, set the client environment, stop it after.

    The client variables are set in ``os.environ`` for the duration (and restored), so
    PortAudio in this process finds the daemon once re-initialised.
    """
    exe = pulseaudio_binary()
    if exe is None:
        raise RuntimeError("pulseaudio is not installed")
    runtime, home = root / "run", root / "home"
    (runtime / "pulse").mkdir(parents=True)
    home.mkdir()
    runtime.chmod(0o700)
    socket = runtime / "pulse" / "native"
    script = root / "vmic.pa"
    script.write_text(VMIC_PA.format(socket=socket))
    log = root / "pa.log"
    env = {
        "XDG_RUNTIME_DIR": str(runtime),
        "HOME": str(home),
        "PULSE_SERVER": f"unix:{socket}",
    }
    saved = {k: os.environ.get(k) for k in CLIENT_VARS}
    os.environ.update(env)
    pid = 0
    try:
        subprocess.run(
            [
                exe,
                "-n",
                "-F",
                str(script),
                "--daemonize=yes",
                "--exit-idle-time=-1",
                f"--log-target=file:{log}",
            ],
            check=True,
            capture_output=True,
            timeout=20,
            env={**os.environ, **env},
        )
        deadline = time.monotonic() + 10
        while not socket.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        pid_file = runtime / "pulse" / "pid"
        while not pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        if not socket.exists():
            raise RuntimeError(f"pulseaudio did not start: {log.read_text(errors='replace')}")
        pid = int(pid_file.read_text().split()[0]) if pid_file.exists() else 0
        yield PulseDaemon(pid=pid, socket=socket, log=log, env=env)
    finally:
        if pid:
            try:
                os.kill(pid, signal.SIGTERM)
                deadline = time.monotonic() + 5
                while time.monotonic() < deadline and _alive(pid):
                    time.sleep(0.05)
            except (ProcessLookupError, PermissionError):
                pass
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie left in a container counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    try:
        return "zombie" not in status.read_text()
    except OSError:
        return True


def reinitialise_portaudio() -> None:
    """Make PortAudio enumerate devices again (after a sound server started or stopped)."""
    import sounddevice as sd

    sd._terminate()
    sd._initialize()
