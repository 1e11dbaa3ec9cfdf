"""The AT modem back-end: is the radio up, does a self-addressed SMS get through?

Method (3GPP 27.005/27.007, text mode), each step bounded by ``[sms.at_modem]`` timeouts:

1. ``AT``, ``ATE0``, ``AT+CMEE=1``; ``AT+CPIN?`` (SIM ready, else ``probe_fault``); ``AT+CFUN?``
   (0 or 4: the radio is switched off on the probe's side, ``probe_fault``).
2. ``AT+CREG?``, ``AT+CGREG?``, ``AT+CEREG?`` until one says 1 (home) or 5 (roaming), for at most
   ``registration_timeout``; none: ``radio_unavailable``. Only the state is kept, never LAC/cell id.
3. ``AT+COPS=3,2`` + ``AT+COPS?`` (MCC/MNC, radio type), ``AT+CSQ`` (signal).
4. ``AT+CMGF=1``, ``AT+CSMP=49,167,0,0`` (ask for a status report), ``AT+CNMI=2,1,0,1,0``.
5. Earlier measurements' leftovers: queued ``+CDS``/``+CMTI`` and, with ``scan_stored``, stored
   messages (``AT+CMGL="ALL"``) that carry a probe nonce are recorded as late events (and the
   messages deleted). The database links them to their measurement by nonce or message reference.
6. ``AT+CMGS="<number>"``, the prompt, the text with a fresh nonce and Ctrl-Z: ``+CMGS: <mr>``
   (accepted) or ``+CMS ERROR: <n>`` (see ``conclusion.cms_conclusion``).
7. Wait, at most ``delivery_timeout``, for the ``+CDS`` report with our reference and, for a
   ``self_loop`` recipient, the ``+CMTI`` of the message coming back (read with ``AT+CMGR``,
   deleted with ``AT+CMGD`` only if it carries our nonce).

Known false positives: a not-registered modem may be in a basement; a missing report may be an
SMSC that does not send reports (the receipt then decides, for a self loop). Late reports sent
while the port was closed are lost on most modems (``+CDS`` is not stored); late receipts are
stored on the SIM and found by the scan.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from typing import cast

import serial
from pydantic import Field

from probe.config import SMS_LABEL_PATTERN, BackendSection, Config, Seconds, SMSRecipient, SMSSection
from probe.errors import ProbeError
from probe.model import utc_now_iso
from probe.model.sms import DeliveryStatus, LocalEvent, Registration, SMSTestKeys, find_nonce, message_text, new_nonce
from probe.net._deadline import Deadline
from probe.sms import conclusion
from probe.sms.at_port import POLL_SECONDS, ATChannel, ModemError, ModemPort, Response
from probe.sms.backend import Backend, SMSNetwork, SMSTarget

INIT_ATTEMPTS = 2
REGISTRATION_POLL_SECONDS = 1.0
MAX_STORED_SCAN = 100
"""Stored messages looked at per measurement."""
_SIM_NOT_INSERTED = 10


class ATModemSection(BackendSection):
    """``[sms.at_modem]``."""

    port: str = Field("/dev/ttyUSB2", description="The modem's AT port: a device or any pyserial URL (socket://).")
    baudrate: int = Field(115200, ge=300, le=4_000_000, description="Serial speed (ignored by socket:// URLs).")
    command_timeout: Seconds = Field(5.0, description="Seconds one AT command may take to its final result.")
    registration_timeout: float = Field(
        10.0, ge=0, le=600, description="Seconds to wait for network registration before radio_unavailable."
    )
    prompt_timeout: Seconds = Field(5.0, description="Seconds to wait for the '> ' prompt after AT+CMGS.")
    submit_timeout: Seconds = Field(60.0, description="Seconds to wait for +CMGS (the network's acceptance).")
    delivery_timeout: Seconds = Field(120.0, description="Seconds to wait for the status report and receipt.")
    scan_stored: bool = Field(
        True,
        description="List stored messages (AT+CMGL) at the start to find late receipts; this marks the SIM's "
        "other messages read, so use a SIM dedicated to the probe. Only nonce messages are deleted.",
    )
    max_line_bytes: int = Field(1024, ge=80, le=65536, description="Longer modem lines are discarded as garbage.")
    max_read_bytes: int = Field(
        1 << 20, ge=4096, le=1 << 26, description="Bytes read from the modem per measurement before giving up."
    )


_port_locks: dict[str, threading.Lock] = {}
_port_locks_guard = threading.Lock()


def _port_lock(port: str) -> threading.Lock:
    """One measurement at a time per modem: the runner measures inputs concurrently."""
    with _port_locks_guard:
        return _port_locks.setdefault(port, threading.Lock())


def longest_measurement(settings: ATModemSection) -> float:
    """An upper bound of one measurement's duration (used to wait for a busy modem)."""
    commands = 20 * settings.command_timeout
    return (
        commands
        + settings.registration_timeout
        + settings.prompt_timeout
        + settings.submit_timeout
        + (settings.delivery_timeout)
    )


def open_port(settings: ATModemSection) -> ModemPort:
    port = serial.serial_for_url(
        settings.port,
        baudrate=settings.baudrate,
        timeout=POLL_SECONDS,
        write_timeout=settings.command_timeout,
        exclusive=True,
    )
    return cast(ModemPort, port)  # every pyserial port class has in_waiting; SerialBase's stub does not


def fields(text: str) -> list[str]:
    """Comma-separated AT values, double quotes removed (commas inside quotes kept)."""
    out: list[str] = []
    current: list[str] = []
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            out.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    out.append("".join(current).strip())
    return out


def _int(text: str | None) -> int | None:
    return int(text) if text is not None and text.strip().isdigit() else None


def measure(settings: ATModemSection, recipient: SMSRecipient, keys: SMSTestKeys) -> None:
    """Run the method above; the outcome is in ``keys`` (``conclusion`` and the rest). Never raises."""
    lock = _port_lock(settings.port)
    if not lock.acquire(timeout=longest_measurement(settings)):
        keys.conclude("probe_fault", "the modem is busy with another measurement")
        return
    try:
        try:
            port = open_port(settings)
        except (serial.SerialException, OSError, ValueError) as exc:
            keys.conclude("probe_fault", f"cannot open the modem port: {str(exc)[:200]}")
            return
        channel = ATChannel(port, max_line_bytes=settings.max_line_bytes, max_read_bytes=settings.max_read_bytes)
        try:
            _Session(channel, settings, recipient, keys).run()
        except ModemError as exc:
            keys.conclude("probe_fault", str(exc))
        finally:
            keys.modem_echo_lines, keys.modem_garbage_lines = channel.echo_lines, channel.garbage_lines
            with contextlib.suppress(serial.SerialException, OSError):
                port.close()
    finally:
        lock.release()


class _Session:
    def __init__(self, channel: ATChannel, settings: ATModemSection, recipient: SMSRecipient, keys: SMSTestKeys):
        self.at = channel
        self.settings = settings
        self.recipient = recipient
        self.keys = keys
        self.message_ref: str | None = None
        self.accepted_at = 0.0

    def cmd(self, command: str, *, timeout: float | None = None) -> Response:
        return self.at.command(command, timeout or self.settings.command_timeout)

    def run(self) -> None:
        self._wake()
        if not self._sim_ready() or not self._radio_on() or not self._registered():
            return
        self._operator_and_signal()
        if not self._configure():
            return
        self._drain_leftovers()
        if not self._send():
            return
        report, receipt = self._await_delivery()
        self.keys.conclude(*conclusion.delivery_conclusion(report, receipt))

    # --- preflight ------------------------------------------------------------------------
    def _wake(self) -> None:
        for attempt in range(INIT_ATTEMPTS):
            try:
                if self.cmd("AT").ok:
                    break
            except ModemError:
                if attempt == INIT_ATTEMPTS - 1:
                    raise
        self.cmd("ATE0")
        self.cmd("AT+CMEE=1")

    def _sim_ready(self) -> bool:
        response = self.cmd("AT+CPIN?")
        state = response.info("+CPIN:")
        code = response.cme_error()
        if code is not None:
            state = "not_inserted" if code == _SIM_NOT_INSERTED else f"cme_error {code}"
        self.keys.sim_state = state or response.final
        if state != "READY":
            self.keys.conclude("probe_fault", f"SIM not ready ({self.keys.sim_state})")
            return False
        return True

    def _radio_on(self) -> bool:
        value = self.cmd("AT+CFUN?").info("+CFUN:")
        self.keys.cfun = _int(fields(value)[0]) if value else None
        if self.keys.cfun in (0, 4):
            self.keys.conclude("probe_fault", f"the modem's radio is switched off (CFUN {self.keys.cfun})")
            return False
        return True

    def _registration(self) -> Registration:
        states: dict[str, int | None] = {}
        for name in ("CREG", "CGREG", "CEREG"):
            value = self.cmd(f"AT+{name}?").info(f"+{name}:")
            parts = fields(value) if value else []
            # "<n>,<stat>[,<lac>,<ci>...]": only <stat> is kept, never the cell.
            states[name.lower()] = _int(parts[1]) if len(parts) > 1 else None
        return Registration.model_validate(states)

    def _registered(self) -> bool:
        deadline = Deadline(self.settings.registration_timeout)
        registration = self._registration()
        while not registration.registered and not deadline.remaining() <= 0:
            time.sleep(min(REGISTRATION_POLL_SECONDS, deadline.remaining()))
            registration = self._registration()
        self.keys.registration = registration
        if registration.registered:
            return True
        if not registration.known:
            self.keys.conclude("probe_fault", "the modem reports no registration state")
        else:
            self.keys.conclude("radio_unavailable", "not registered on any network")
        return False

    def _operator_and_signal(self) -> None:
        self.cmd("AT+COPS=3,2")
        value = self.cmd("AT+COPS?").info("+COPS:")
        parts = fields(value) if value else []
        if len(parts) >= 3 and parts[1] == "2" and parts[2].isdigit() and len(parts[2]) in (5, 6):
            self.keys.mcc, self.keys.mnc = parts[2][:3], parts[2][3:]
        self.keys.radio_type = conclusion.radio_type(_int(parts[3]) if len(parts) >= 4 else None)
        value = self.cmd("AT+CSQ").info("+CSQ:")
        rssi = _int(fields(value)[0]) if value else None
        self.keys.signal_rssi = rssi
        self.keys.signal_dbm = conclusion.signal_dbm(rssi)

    def _configure(self) -> bool:
        for command in ("AT+CMGF=1", "AT+CSMP=49,167,0,0", "AT+CNMI=2,1,0,1,0"):
            response = self.cmd(command)
            if not response.ok:
                self.keys.conclude("probe_fault", f"the modem refused {command} ({response.final})")
                return False
        return True

    # --- leftovers of earlier measurements ------------------------------------------------
    def _drain_leftovers(self) -> None:
        for urc in self.at.pending_urcs():
            self._urc(urc)
        if not self.settings.scan_stored:
            return
        response = self.cmd('AT+CMGL="ALL"')
        if not response.ok:
            return
        lines = response.lines
        for i, line in enumerate(lines[: 2 * MAX_STORED_SCAN]):
            if not line.startswith("+CMGL:"):
                continue
            index = _int(fields(line[6:])[0])
            text = lines[i + 1] if i + 1 < len(lines) and not lines[i + 1].startswith("+CMGL:") else ""
            nonce = find_nonce(text)
            if index is not None and nonce is not None:
                self.keys.add_late(LocalEvent("receipt", "delivered", None, nonce=nonce))
                self.cmd(f"AT+CMGD={index}")

    # --- sending --------------------------------------------------------------------------
    def _send(self) -> bool:
        keys = self.keys
        nonce = new_nonce()
        keys.local.backend, keys.local.nonce = "at_modem", nonce
        number = self.recipient.number.get_secret_value()
        try:
            prompt = self.at.command(f'AT+CMGS="{number}"', self.settings.prompt_timeout, expect_prompt=True)
        except ModemError:
            self.at.cancel_text()
            keys.send_result = "no_prompt"
            keys.conclude("probe_fault", "no '> ' prompt after AT+CMGS")
            return False
        if not prompt.prompt:
            return self._refused(prompt)
        try:
            accepted = self.at.send_text(message_text(nonce), self.settings.submit_timeout)
        except ModemError:
            keys.send_result = "timeout"
            keys.conclude("probe_fault", "no answer to the submission in time")
            return False
        if not accepted.ok:
            return self._refused(accepted)
        self.accepted_at = time.monotonic()
        keys.send_result = "ok"
        self.message_ref = accepted.info("+CMGS:")
        keys.message_ref_received = self.message_ref is not None
        keys.local.message_ref, keys.local.sent_at = self.message_ref, utc_now_iso()
        return True

    def _refused(self, response: Response) -> bool:
        code = response.cms_error()
        if code is None or code < 0:
            self.keys.send_result = "error"
            self.keys.conclude("probe_fault", f"the modem refused the submission ({response.final})")
        else:
            self.keys.send_result, self.keys.cms_error = "cms_error", code
            self.keys.conclude(conclusion.cms_conclusion(code), f"cms_error {code}")
        return False

    # --- waiting --------------------------------------------------------------------------
    def _await_delivery(self) -> tuple[DeliveryStatus | None, bool]:
        expect_receipt = self.recipient.direction == "self_loop"
        deadline = Deadline(self.settings.delivery_timeout)
        while True:
            report, receipt = self.keys.report_status, self.keys.nonce_matched
            # The nonce coming back proves delivery; a report alone suffices when no receipt is expected.
            if receipt or report == "failed" or (report == "delivered" and not expect_receipt):
                break
            urc = self.at.next_urc(deadline)
            if urc is None:
                break
            self._urc(urc)
        return self.keys.report_status, self.keys.nonce_matched

    def _latency(self) -> float:
        return round(time.monotonic() - self.accepted_at, 3)

    def _urc(self, urc: str) -> None:
        if urc.startswith("+CDS:"):
            self._status_report(fields(urc[5:]))
        elif urc.startswith("+CMTI:"):
            parts = fields(urc[6:])
            index = _int(parts[1]) if len(parts) > 1 else None
            if index is not None:
                self._stored_message(index)

    def _status_report(self, parts: list[str]) -> None:
        # +CDS: <fo>,<mr>,[<ra>],[<tora>],<scts>,<dt>,<st>: <ra> (a number) is never kept.
        if len(parts) < 3:
            self.at.garbage_lines += 1
            return
        ref, st = parts[1], _int(parts[-1])
        if st is None:
            self.at.garbage_lines += 1
            return
        status = conclusion.status_report(st)
        if self.message_ref is not None and ref == self.message_ref:
            latency = self._latency()
            self.keys.report_status, self.keys.report_code = status, str(st)
            self.keys.report_latency = latency
            self.keys.local.events.append(LocalEvent("report", status, str(st), latency=latency))
        else:
            self.keys.add_late(LocalEvent("report", status, str(st), message_ref=ref))

    def _stored_message(self, index: int) -> None:
        response = self.cmd(f"AT+CMGR={index}")
        if not response.ok:
            return
        text = next((line for line in response.lines if not line.startswith("+CMGR:")), "")
        nonce = find_nonce(text)
        if nonce is None:
            return  # somebody else's message: neither kept nor deleted
        if nonce == self.keys.local.nonce and self.message_ref is not None:
            latency = self._latency()
            self.keys.nonce_matched, self.keys.receipt_latency = True, latency
            self.keys.local.events.append(LocalEvent("receipt", "delivered", None, nonce=nonce, latency=latency))
        else:
            self.keys.add_late(LocalEvent("receipt", "delivered", None, nonce=nonce))
        self.cmd(f"AT+CMGD={index}")


# --- the back-end ----------------------------------------------------------------------------------------

_LABEL = re.compile(SMS_LABEL_PATTERN)


def _label(value: str) -> str:
    return value.removeprefix("at:")


def _check(value: str) -> str | None:
    if _LABEL.match(_label(value)):
        return None
    return "at:LABEL names a recipient in [sms.recipients]: a letter, then a-z 0-9 _ - (at most 32)"


def _parse(value: str, sms: SMSSection) -> SMSTarget:
    reason = _check(value)
    if reason:
        raise ValueError(reason)
    label = _label(value)
    if label not in sms.recipients:
        raise ValueError(f"no recipient {label!r} in [sms.recipients]")
    return SMSTarget(BACKEND.name, label=label)


def _measure_target(
    target: SMSTarget, config: Config, recipient: SMSRecipient | None, keys: SMSTestKeys, net: SMSNetwork
) -> None:
    if recipient is None:  # _parse checked it: only a broken caller gets here
        raise ProbeError(f"no recipient {target.label!r} in [sms.recipients]")
    measure(BACKEND.settings(config.sms), recipient, keys)


BACKEND = Backend(
    name="at_modem",
    section=ATModemSection,
    prefixes=("at:",),
    form="at:LABEL",
    check=_check,
    parse=_parse,
    measure=_measure_target,
    legacy=lambda value: bool(_LABEL.match(value)),
)
"""``at:self-loop`` (or a bare label, the older form): an SMS to that recipient through the modem."""
