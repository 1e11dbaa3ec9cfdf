"""The batch: what a probe sends to a collector (over HTTP, or in a bundle file, one per line).

    {"format": "zhanaozen-batch/4", "probe_id": ..., "public_key": ..., "created_at": ..., "upload_every": ...,
     "measurements": [chained rows, in chain order], "runs": [...], "rounds": [...],
     "network_contexts": [...], "head": {"seq", "hash", "signed_at", "signature"} | null, "signature": ...}

Versions (``format``; a collector accepts every one in ``BATCH_FORMATS``, so probes not yet upgraded
keep uploading):

- ``zhanaozen-batch/1``: chained measurement rows, runs, rounds, heads, withheld records;
- ``zhanaozen-batch/2`` adds what the analyst needs to judge as the probe did: each measurement's verdict
  columns (``verdict``, ``blocking``, ``blocking_detail``, ``confirmed``, ``reason``, ``network_state``; not
  chained, as on the probe), each run's network identity (``probe_network_name``, ``network_source`` beside
  ``probe_asn``/``probe_cc``), and the network contexts of the runs in the batch (``network_contexts``).
  All of them optional, so that a /1 batch is a valid /2 one without them.
- ``zhanaozen-batch/3`` adds each measurement's deciding rule (``rule``, ``rules_version``, ``suspected``;
  optional, not chained) and signs the records by their hashes (``hashed_batch_statement``): the signature
  covers each record's place, hash and verdict columns, its content is covered by the hash, which the
  collector recomputes anyway. A collector then encodes a record canonically once, not twice, and validates
  the body from its bytes: the statement of a /1 or /2 batch needs the body parsed as plain JSON as well.
- ``zhanaozen-batch/4`` adds what a collector needs to place a probe and to tell its silence from a cut: each
  run's place as the probe declared it when the run started (``area``, ``district``, ``network_type``), each
  round's interval (``every``, seconds) and whether the machine was off since the round before (``rebooted``: the
  boot changed; ``resumed``: the daemon was not running; 1, 0 or null), and the probe's upload interval
  (``upload_every``, seconds; null in a bundle). No identifier of the machine: the boot's id stays on the probe.
  A batch of an earlier format carries none of these (``SINCE_4``), and its signature covers them not.

Over HTTP the request also carries ``X-Probe-Id``, ``X-Probe-Key`` (base64) and
``X-Probe-Signature``, the key's signature of the body's bytes
(``probe.integrity.signing.upload_statement``): a collector checks who is sending from the head,
and the signature before it parses anything. A collector still accepts a batch without them (the
format of earlier probes), up to a smaller size and a few at a time.

``signature`` is the probe key's signature of every other key of the batch, canonically
encoded (``signed_statement``); ``head`` signs the chain up to the
batch's last record, and is what a collector keeps as evidence. Measurements travel as stored
(``test_keys`` and ``annotations`` as their JSON text) so that their hashes can be recomputed
exactly. A run's ``config`` is never sent (it may hold a proxy's password), nor a list's path
(only its file name): a path can carry the volunteer's user name.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, field_validator, model_validator

from probe.identity import Identity
from probe.integrity.signing import batch_statement, hashed_batch_statement, upload_statement
from probe.limits import INPUT_CHARS, MAX_ITEMS, SHORT_CHARS, TEXT_CHARS
from probe.storage.columns import VERDICT_ROW_COLUMNS
from probe.storage.db import row_to_measurement
from probe.storage.tables import ROUND_FIELDS, ROUND_FLAGS, ROUNDS

BATCH_FORMAT = "zhanaozen-batch/4"
"""What this probe sends."""
WHOLE_SIGNED_FORMATS = ("zhanaozen-batch/1", "zhanaozen-batch/2")
"""The versions whose signature covers the whole batch as plain JSON (``batch_statement``)."""
BATCH_FORMATS = (*WHOLE_SIGNED_FORMATS, "zhanaozen-batch/3", BATCH_FORMAT)
"""What a collector accepts: this version and the previous ones."""
TEXT_MAX = TEXT_CHARS
PROBE_ID_HEADER = "X-Probe-Id"
PROBE_KEY_HEADER = "X-Probe-Key"
SIGNATURE_HEADER = "X-Probe-Signature"

Hex64 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
ProbeId = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]
Short = Annotated[str, Field(max_length=SHORT_CHARS)]
Text = Annotated[str, Field(max_length=TEXT_CHARS)]
Count = Annotated[int, Field(ge=0, le=1 << 40)]
Flag = Annotated[int, Field(ge=0, le=1)]
Seconds = Annotated[float, Field(gt=0, le=366 * 86400, allow_inf_nan=False)]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _json_object(value: str) -> str:
    try:
        parsed = json.loads(value)
    except (ValueError, RecursionError):
        raise ValueError("not valid JSON") from None
    if not isinstance(parsed, dict):
        raise ValueError("not a JSON object")
    return value


class MeasurementRecord(_Record):
    id: Short
    run_id: Short
    experiment: Short
    input: Annotated[str, Field(max_length=INPUT_CHARS)] | None
    category_code: Short | None
    started_at: Short
    test_start_time: Short
    runtime: float
    failure: Text | None
    failed_step: Short | None
    probe_asn: Short
    probe_cc: Short
    test_name: Short
    test_version: Short
    report_id: Short
    software_name: Short
    software_version: Short
    annotations: Text
    test_keys: str
    chain_seq: Annotated[int, Field(ge=1, le=1 << 62)]
    chain_prev: Hex64
    chain_hash: Hex64
    # Since /2: the verdict, outside the chain (a measurement can be judged again).
    verdict: Short | None = None
    blocking: Short | None = None
    blocking_detail: Short | None = None
    confirmed: Annotated[int, Field(ge=0, le=1)] | None = None
    reason: Text | None = None
    network_state: Short | None = None
    # Since /3: the rule that decided the verdict, the rules' version, the method a non-blocked verdict suspects.
    rule: Short | None = None
    rules_version: Short | None = None
    suspected: Short | None = None

    @field_validator("runtime")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value) or value < 0:
            raise ValueError("a runtime is a finite number of seconds")
        return value

    # ``test_keys`` (the bulk of a record) is parsed once, by the measurement it must load as
    # (``row_to_measurement``, which every reader of a record calls after this model): parsing it here
    # too doubled a collector's JSON work.
    @field_validator("annotations")
    @classmethod
    def _object(cls, value: str) -> str:
        return _json_object(value)


class RunRecord(_Record):
    id: Short
    started_at: Short | None = None
    finished_at: Short | None = None
    status: Short | None = None
    experiment: Short | None = None
    test_list: Short | None = None
    probe_asn: Short | None = None
    probe_cc: Short | None = None
    software_version: Short | None = None
    measurements: Count | None = None
    problems: Text | None = None
    # Since /2.
    probe_network_name: Short | None = None
    network_source: Short | None = None
    # Since /4: the place the probe declared when the run started (``probe.place``).
    area: Short | None = None
    district: Short | None = None
    network_type: Short | None = None


class NetworkContextRecord(_Record):
    """A round's network controls, at its start or end (since /2)."""

    run_id: Short
    phase: Short
    measured_at: Short | None = None
    network_state: Short | None = None
    gateway: Short | None = None
    gateway_answers: Annotated[int, Field(ge=0, le=1)] | None = None
    controls: Text | None = None


_ROUND_REQUIRED = ("id", "group_name", "experiment", "started_at", "status")
_ROUND_TEXTS = ("error",)


def _round_field(name: str) -> tuple[Any, Any]:
    """A round's field as the protocol takes it: from its ``rounds`` column (a count is a ``Count``, 0 when
    absent; a flag 0 or 1, null when unknown; an interval positive seconds), what a heartbeat always has
    required, an error as long text."""
    kind = ROUNDS.column(name).type.python
    if name in ROUND_FLAGS:
        return Flag | None, None
    if kind is float:
        return Seconds | None, None
    if kind is int:
        return Count, 0
    if name in _ROUND_REQUIRED:
        return Short, ...
    return (Text if name in _ROUND_TEXTS else Short) | None, None


if TYPE_CHECKING:  # the fields are made at run time, from the declaration: a record as mypy sees it
    RoundRecord = _Record
else:
    RoundRecord = create_model("RoundRecord", __base__=_Record, **{name: _round_field(name) for name in ROUND_FIELDS})
"""A round's heartbeat: its fields are the ``rounds`` columns but the probe's id (``ROUND_FIELDS``)."""


class HeadRecord(_Record):
    seq: Annotated[int, Field(ge=1, le=1 << 62)]
    hash: Hex64
    signed_at: Short
    signature: Short


class WithheldRecord(_Record):
    """A record the probe holds in quarantine, named by its place and hash, signed (``withheld_statement``)."""

    seq: Annotated[int, Field(ge=1, le=1 << 62)]
    prev: Hex64
    hash: Hex64
    reason: Text
    signature: Short


SINCE_4: dict[str, tuple[str, ...]] = {
    "batch": ("upload_every",),
    "runs": ("area", "district", "network_type"),
    "rounds": ("every", *ROUND_FLAGS),
}
"""The fields ``zhanaozen-batch/4`` added, by where they are: a batch of an earlier format holds none of them."""


class Batch(_Record):
    format: Literal["zhanaozen-batch/1", "zhanaozen-batch/2", "zhanaozen-batch/3", "zhanaozen-batch/4"]
    probe_id: ProbeId
    public_key: Short
    created_at: Short
    upload_every: Seconds | None = None
    """Since /4: the probe's upload interval (``[upload] every``), so a collector knows when its silence is
    unusual; None from a bundle, which is not uploaded on a schedule."""
    epoch: Hex64 | None = None
    """The chain the measurements belong to: the hash of its record 1 (a recreated database starts
    a new one). Required with measurements or withheld records; absent from batches of runs and rounds."""
    measurements: Annotated[list[MeasurementRecord], Field(max_length=MAX_ITEMS)]
    runs: Annotated[list[RunRecord], Field(max_length=MAX_ITEMS)]
    rounds: Annotated[list[RoundRecord], Field(max_length=MAX_ITEMS)]
    head: HeadRecord | None
    withheld: Annotated[list[WithheldRecord], Field(max_length=MAX_ITEMS)] = []
    network_contexts: Annotated[list[NetworkContextRecord], Field(max_length=MAX_ITEMS)] = []
    signature: Short

    @model_validator(mode="after")
    def _fields_of_its_format(self) -> Batch:
        # An earlier format's signature would not cover them (``statement_view``): refused, never stored unsigned.
        if self.format != BATCH_FORMAT:
            for where, names in SINCE_4.items():
                records = [self] if where == "batch" else getattr(self, where)
                for record in records:
                    held = [name for name in names if getattr(record, name) is not None]
                    if held:
                        raise ValueError(f"{where}: {held[0]} is sent since {BATCH_FORMAT}, not in {self.format}")
        return self


RUN_FIELDS = tuple(RunRecord.model_fields)
NETWORK_CONTEXT_FIELDS = tuple(NetworkContextRecord.model_fields)
VERDICT_FIELDS = VERDICT_ROW_COLUMNS
"""The measurement record's verdict fields (since /2; the rule's since /3), the ``measurements`` columns of the
same names."""


def first_error(error: ValidationError) -> str:
    """The first of a validation error's problems, as ``where: what``."""
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "batch"
    return f"{where}: {first['msg']}"


def measurement_problem(record: Mapping[str, Any]) -> str | None:
    """Why any collector refuses this measurement record, whatever batch carries it; None if it would
    not. The probe asks before sending (and quarantines the record instead), the collector on receipt."""
    try:
        MeasurementRecord.model_validate(record)
    except ValidationError as exc:
        return f"not a valid measurement record: {first_error(exc)}"
    try:
        row_to_measurement(dict(record))
    except ValidationError as exc:
        return f"not a valid measurement: {first_error(exc)}"
    except (ValueError, TypeError, KeyError) as exc:
        return f"not a valid measurement: {exc}"
    return None


def encode_batch(batch: dict[str, Any]) -> bytes:
    return json.dumps(batch, ensure_ascii=False, separators=(",", ":")).encode()


def signed_statement(batch: Batch, raw: Mapping[str, Any] | None) -> bytes:
    """What ``batch``'s signature covers. A /1 or /2 batch needs ``raw``, the batch as plain JSON parsed it
    (its signature covers exactly those values); a /3 one is read from its model (``raw`` is not needed)."""
    if batch.format in WHOLE_SIGNED_FORMATS:
        if raw is None:
            raise ValueError(f"a {batch.format} batch is checked against its plain JSON")
        return batch_statement(raw)
    return hashed_batch_statement(statement_view(batch))


def statement_view(batch: Batch) -> dict[str, Any]:
    """``batch`` as its signature covers it (/3 on): every field of its format, as its model dumps them. A /3
    batch is read without the fields /4 added (``SINCE_4``), as a /3 probe's model dumped it when it signed."""
    view = batch.model_dump()
    if batch.format == BATCH_FORMAT:
        return view
    for where, names in SINCE_4.items():
        for record in [view] if where == "batch" else view[where]:
            for name in names:
                del record[name]
    return view


def sign_batch(identity: Identity, batch: Mapping[str, Any]) -> str:
    """The signature of ``batch`` (every key but ``signature``), as a collector will check it: a /3 batch is
    read back from its encoding, as the collector reads it, so that both sign the same values. A batch the
    collector would refuse as invalid is signed as it stands (it is refused whatever its signature)."""
    if batch["format"] in WHOLE_SIGNED_FORMATS:
        return identity.sign(batch_statement(batch))
    unsigned = {**batch, "signature": ""}
    try:
        model = Batch.model_validate_json(encode_batch(unsigned))
    except ValidationError:
        return identity.sign(hashed_batch_statement(unsigned))
    return identity.sign(hashed_batch_statement(statement_view(model)))


def upload_headers(identity: Identity, body: bytes) -> dict[str, str]:
    """The headers that let a collector check the sender, and the body's signature, before parsing it."""
    return {
        PROBE_ID_HEADER: identity.probe_id,
        PROBE_KEY_HEADER: identity.public_key_b64,
        SIGNATURE_HEADER: identity.sign(upload_statement(body)),
    }
