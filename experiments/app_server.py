"""`povsim app`: serve the planner's page (experiments/app.py) on this machine.

    povsim app [SCENARIO ...] [--host ADDR] [--port N] [--results DIR] [--open] [--debug]

The page is a Solara app served by Solara's Starlette application under uvicorn, as
`solara run` serves one (Solara's self-hosted deployment: the app named by the SOLARA_APP
environment variable, `solara.server.starlette:app` under an ASGI server). Nothing is
imported from Solara until the command runs, so `povsim --help` stays quick.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

from sim.errors import InputError

#: Environment variables the page reads (the server process hands them to it).
ENV_SCENARIOS = "POVSIM_APP_SCENARIOS"  # scenario files, os.pathsep-separated; the first opens
ENV_RESULTS = "POVSIM_APP_RESULTS"  # the results folder

#: assumption: the page is for the planner at this machine; serving it to the network is a
#: deliberate --host 0.0.0.0 (it runs models and writes files on request, without login).
DEFAULT_HOST = "127.0.0.1"
#: Solara's own default port (`solara run --port`, 8765).
DEFAULT_PORT = 8765


def register(sub) -> None:
    """The `app` subcommand's arguments (as experiments/cli_analysis.py registers its own)."""
    app = sub.add_parser(
        "app", help="a local web page to compare a measure mix with its scenario",
        description="Serve a web page (Solara) on this machine: pick a shipped scenario (or the "
        "SCENARIO files given), switch measures on and off and set their main parameters within "
        "their bounds, run the mix and the unmodified scenario on the same seeds, and see per year "
        "the registered poor, exits, returns and fiscal cost with bands over seeds, the paired "
        "differences (mix - baseline) with 90% intervals as povsim compare computes them, and the "
        "cost per sustained exit; save the mix as a scenario file povsim run accepts, download "
        "the results. Runs are stored under DIR/app/ (a sweep store): a mix run again is loaded.")
    app.add_argument("scenarios", metavar="SCENARIO", nargs="*",
                     help="scenario files to offer besides the shipped ones; the page opens on the "
                          "first (default: experiments/scenarios/shangluo.toml)")
    app.add_argument("--host", metavar="ADDR", default=DEFAULT_HOST,
                     help=f"address to listen on (default: {DEFAULT_HOST}, this machine only)")
    app.add_argument("--port", metavar="N", default=str(DEFAULT_PORT),
                     help=f"port to listen on; 0 picks a free one (default: {DEFAULT_PORT})")
    app.add_argument("--results", metavar="DIR", default="results",
                     help="results folder: runs go to DIR/app/, saved scenario files to "
                          "DIR/app/scenarios/ (default: results)")
    app.add_argument("--open", action="store_true", help="open the page in the default browser")
    app.add_argument("--debug", action="store_true", help="show tracebacks")


def free_port(host: str) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _check_port(host: str, port: int) -> None:
    """The address can be listened on: refused in one line before any server starts."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, port))
    except socket.gaierror:
        raise InputError("command line", "--host", f"cannot resolve {host!r}") from None
    except OSError as exc:
        raise InputError("command line", "--port", f"cannot listen on {host}:{port}: "
                         f"{exc.strerror or exc} (another server there? give --port N, or 0 for a free one)") from None


def command(args, argv: list[str]) -> int:
    from .cli_common import PROG, check_writable, int_arg
    from .scenario import load_scenario
    from .workbench import SCENARIO_DIR

    port = int_arg(args.port, "--port", 0, 65535)
    files = [Path(f) for f in args.scenarios] or [SCENARIO_DIR / "shangluo.toml"]
    for f in files:
        load_scenario(f)  # as povsim check: a bad file is one line and exit code 2
    results = Path(args.results)
    check_writable(results)
    try:
        import solara  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        print(f"{PROG}: error: povsim app needs Solara ({exc.name} is not installed): "
              "pip install -e '.[app]'", file=sys.stderr)
        return 2
    if port == 0:
        port = free_port(args.host)
    _check_port(args.host, port)
    return serve(files, args.host, port, results, open_browser=args.open)


def serve(files: list[Path], host: str, port: int, results: Path, open_browser: bool = False) -> int:
    """Run the page's server until interrupted; prints the address first."""
    os.environ[ENV_SCENARIOS] = os.pathsep.join(str(f) for f in files)
    os.environ[ENV_RESULTS] = str(results)
    os.environ["SOLARA_APP"] = "experiments.app"
    # no usage statistics sent from a planner's machine (Solara sends them by default)
    os.environ.setdefault("SOLARA_TELEMETRY_MIXPANEL_ENABLE", "False")
    os.environ["SERVER_NAME"], os.environ["SERVER_PORT"] = host, str(port)
    import warnings

    import uvicorn

    # Solara warns on every page load that a cookie cannot be samesite=none over http; on this
    # machine's own address that is expected (it falls back to lax, which is what is wanted)
    warnings.filterwarnings("ignore", message="Cookies with samesite=none require https")
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/"
    config = uvicorn.Config("solara.server.starlette:app", host=host, port=port, log_level="warning")
    server = uvicorn.Server(config)
    print(f"povsim app: serving the page at {url} (Ctrl-C to stop)", flush=True)
    if open_browser:
        import threading
        import webbrowser

        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    server.run()
    return 0


COMMANDS = {"app": command}
