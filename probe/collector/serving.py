"""A collector serving until SIGTERM or Ctrl-C, and its alerts: what ``probe collector serve`` and ``alerts`` run.

    serve          one process (its alerts, if any, from a thread beside ingest), or with ``workers`` > 1
                   that many processes on one listening socket under a ``Supervisor`` (PostgreSQL only), the
                   alerts in a process of their own
    send_alerts    the alerts alone, in this process (so that their analysis never takes CPU from ingest)
    alert_worker   the configured ``AlertWorker`` (None without webhooks), made the same way for all three
    alert_paths    the key that signs the alerts and the file that keeps what was sent

Everything is said through ``log``, one line at a time; a database that cannot be served raises ``ProbeError``.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from probe.analysis.regional.query import configured
from probe.collector.alert_worker import AlertWorker
from probe.collector.service import Limits, make_server
from probe.collector.workers import STOP_TIMEOUT, Child, Supervisor, worker
from probe.config import Config
from probe.errors import ProbeError
from probe.identity import key_path_for, load_or_create
from probe.server import listening_socket
from probe.storage.postgres.connection import redact
from probe.storage.store import is_postgres, open_store

Log = Callable[[str], None]


def alert_paths(config: Config, db_path: Path | str) -> tuple[Path, Path]:
    """The collector's signing key and its alert state file."""
    settings = config.collector.alerts
    if settings.key is not None:
        key = settings.key
    elif isinstance(db_path, Path):
        key = key_path_for(db_path)
    else:
        key = config.probe.data_dir / "collector.key"
    return key, settings.state or key.with_name("collector-alerts.db")


def alert_worker(config: Config, db_path: Path | str, log: Log) -> AlertWorker | None:
    """The alerts ``[collector.alerts]`` configures, signed by the collector's key (made on first use); None
    when it names no webhook."""
    settings = config.collector.alerts
    if not settings.webhooks:
        return None
    key, state = alert_paths(config, db_path)
    rules = configured(config.collector.regional)
    made = AlertWorker(db_path, settings, load_or_create(key), state, log=log, rules=rules)
    log(f"collector: alerts to {len(settings.webhooks)} webhook(s), signed by {key}")
    return made


def _on_stop_signals(stop: Callable[[], None]) -> None:
    def on_signal(number: int, frame: FrameType | None) -> None:
        stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)


def serve(
    config: Config,
    db_path: Path | str,
    host: str,
    port: int,
    limits: Limits,
    log: Log,
    *,
    alerts: bool = True,
    workers: int = 1,
    stop_timeout: float = STOP_TIMEOUT,
) -> None:
    """Accept batches until SIGTERM or SIGINT, with the configured alerts unless ``alerts`` is False."""
    if workers > 1:
        _serve_workers(config, db_path, host, port, limits, log, alerts=alerts, workers=workers, timeout=stop_timeout)
        return
    server = make_server(db_path, host, port, limits=limits, log=log)
    sender = alert_worker(config, db_path, log) if alerts else None
    if sender is not None:
        sender.start()
    _on_stop_signals(server.shutdown)
    log(f"collector: serving {server.url}/v1/batches into {server.writer.label}")
    try:
        server.serve_forever()
    finally:
        server.close()
        if sender is not None:
            sender.stop()
    log("collector: stopped")


def _serve_workers(
    config: Config,
    db_path: Path | str,
    host: str,
    port: int,
    limits: Limits,
    log: Log,
    *,
    alerts: bool,
    workers: int,
    timeout: float,
) -> None:
    """``workers`` processes on one socket, the alerts in one process of their own, under a ``Supervisor``."""
    if not is_postgres(db_path):
        raise ProbeError(f"--workers {workers} needs a PostgreSQL database: SQLite takes one writer at a time")
    open_store(db_path).close()  # migrated once, here, and a database that cannot be opened said so now
    listener = listening_socket(host, port)
    children = {f"worker {number}": worker(listener, host, db_path, limits, log) for number in range(workers)}
    sender = alert_worker(config, db_path, log) if alerts else None
    if sender is not None:
        children["alerts"] = _alert_process(sender)
    url = f"http://{f'[{host}]' if ':' in host else host}:{listener.getsockname()[1]}"
    log(f"collector: serving {url}/v1/batches into {redact(str(db_path))} with {workers} workers")
    try:
        Supervisor(children, log, stop_timeout=timeout).run()
    finally:
        listener.close()
    log("collector: stopped")


def _alert_process(sender: AlertWorker) -> Child:
    def run() -> int:
        signal.signal(signal.SIGTERM, lambda number, frame: sender.stopping.set())
        sender.run()
        return 0

    return run


def send_alerts(config: Config, db_path: Path | str, log: Log) -> None:
    """Send the configured alerts from this process until SIGTERM or SIGINT; ``ProbeError`` without webhooks."""
    sender = alert_worker(config, db_path, log)
    if sender is None:
        raise ProbeError("no webhooks: set [collector.alerts] webhooks in the config")
    _on_stop_signals(sender.stopping.set)
    sender.run()
    log("collector: alerts stopped")
