"""Executing one component: reuse complete outputs, write new ones atomically, record it all.

Layout of a run root (one folder per pipeline node):

    <root>/<node>/<output>/<execution>/        a complete output, never changed again
    <root>/<node>/<output>/.tmp-<execution>/   being written; never read, removed on retry
    <root>/<node>/_executions/<execution>.json the record: status, parameters, inputs, outputs
    <root>/<node>/_work/<execution>/           scratch that survives a kill (Context.work_dir)
    <root>/<node>/.lock                        held (flock) while the node executes

The execution id is the start of the cache key (component code version,
parameters, input fingerprints), so a retry after a crash aims at the same
folders. An output counts only when its record says "complete", and the
record is written last, after the temporary folders were renamed into place
(os.replace): whatever a killed process left behind — a `.tmp-` folder, a
renamed folder without a complete record — is removed by the next attempt,
never promoted or reused.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import fcntl
import hashlib
import json
import logging
import os
import shutil
import socket
import time
import traceback
from collections.abc import Callable, Mapping
from typing import Any

from tfelg import atomic
from tfelg.errors import InputError
from tfelg_components.base import Artifact, Component, Context, canonical_json

EXECUTIONS_DIR = "_executions"
WORK_DIR = "_work"
TMP_PREFIX = ".tmp-"


class ComponentError(RuntimeError):
    """A component failed; the message names the node and the cause; `record` is the JSON path."""

    def __init__(self, node: str, message: str, record: str | None = None):
        super().__init__(f"component {node!r} failed: {message}")
        self.node = node
        self.record = record
        self.result = None  # run_pipeline's summary so far, when raised from a pipeline


@dataclasses.dataclass
class Execution:
    """One execution of a component in a run root, as recorded in its JSON file."""

    node: str
    component: str
    id: str
    cache_key: str
    code_version: str
    status: str  # "running", "complete" or "failed"
    parameters: dict[str, Any]
    inputs: dict[str, Artifact | None]
    outputs: dict[str, Artifact]
    started: str
    ended: str | None = None
    seconds: float | None = None
    error: str | None = None
    cached: bool = False  # this call reused it (not recorded)

    def to_json(self, root: str | None = None) -> dict:
        """The record; artifact uris relative to `root` if given, else absolute."""
        record = dataclasses.asdict(self) | {
            "inputs": {k: a and a.to_json(root) for k, a in self.inputs.items()},
            "outputs": {k: a.to_json(root) for k, a in self.outputs.items()},
            "host": socket.gethostname(),
            "pid": os.getpid(),
        }
        del record["cached"]
        return record

    @classmethod
    def from_json(cls, record: Mapping[str, Any], root: str) -> Execution:
        fields = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in record.items() if k in fields}
        kwargs["inputs"] = {
            k: a and Artifact.from_json(a, root) for k, a in kwargs["inputs"].items()
        }
        kwargs["outputs"] = {k: Artifact.from_json(a, root) for k, a in kwargs["outputs"].items()}
        return cls(**kwargs)


def fingerprint(path: str) -> str:
    """sha256 over the sorted relative file paths, sizes and bytes under `path` (or of a file).

    Each file, in the order of its relative path ("/"-separated), adds its
    path, a NUL, its size as 8 little-endian bytes, then its bytes. Names
    count, not only bytes: a component may read a file by its name, so the
    same bytes under another name are another input. A single file (an
    external input) is hashed as its base name, size and bytes after a NUL,
    which no folder's stream starts with (relative paths are never empty).
    The stream is fixed: external inputs are fingerprinted again on every
    run and enter the cache keys, so another stream would silently make every
    existing run root's steps run again.
    """
    digest = hashlib.sha256()
    if os.path.isfile(path):
        digest.update(b"\0")
        files = [(os.path.basename(path), path)]
    else:
        files = []
        for folder, dirs, names in os.walk(path):
            dirs.sort()
            for name in names:
                full = os.path.join(folder, name)
                files.append((os.path.relpath(full, path).replace(os.sep, "/"), full))
        files.sort()
    for relative, full in files:
        digest.update(relative.encode() + b"\0" + os.path.getsize(full).to_bytes(8, "little"))
        with open(full, "rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def cache_key(component: Component, params: Mapping, inputs: Mapping) -> str:
    """Hash of the component's code version, its parameters and its inputs' fingerprints."""
    payload = {
        "component": component.name,
        "code_version": component.code_version,
        "parameters": dict(params),
        "inputs": {name: a and a.fingerprint for name, a in inputs.items()},
    }
    return hashlib.sha256(canonical_json(payload).encode()).hexdigest()


def utc_now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")


def write_json(path: str, value: Any) -> None:
    """Writes JSON to a temporary file beside `path`, then renames it into place."""
    atomic.write_json(path, value)


def read_json(path: str) -> dict | None:
    """The JSON object in `path`, or None if there is no such file.

    Raises:
      InputError: naming the file, when it is not a JSON object (a record
        damaged outside the runner, which writes them atomically; a folder
        in its place; bytes that are not UTF-8).
    """
    try:
        with open(path, encoding="utf-8") as f:
            value = json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise InputError(f"not a readable JSON record ({e})", path=path) from e
    if not isinstance(value, dict):
        raise InputError(f"not a JSON object but a {type(value).__name__}", path=path)
    return value


@contextlib.contextmanager
def locked(path: str):
    """Holds an exclusive flock on `path` (released by the OS if the process dies)."""
    with open(path, "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            logging.warning("waiting for another process that holds %s", path)
            fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def record_path(root: str, node: str, execution: str) -> str:
    return os.path.join(root, node, EXECUTIONS_DIR, f"{execution}.json")


def read_artifact(uri: str, artifact_type: type[Artifact] = Artifact) -> Artifact:
    """The artifact at `uri`: a complete output of some run root, or an external folder/file.

    An output under a run root comes with the type, properties and fingerprint
    of its record; anything else is fingerprinted here. A `.tmp-` folder or an
    output without a complete record is refused.
    """
    uri = os.path.abspath(os.path.expanduser(uri))
    name, output_dir = os.path.basename(uri), os.path.dirname(uri)
    if name.startswith(TMP_PREFIX):
        raise InputError("a half-written output: never read", path=uri)
    if not os.path.exists(uri):
        raise InputError("no such artifact", path=uri)
    root, node = os.path.split(os.path.dirname(output_dir))
    try:
        record = read_json(record_path(root, node, name))
    except InputError as e:
        raise InputError(
            f"its execution record is damaged ({e}): run its step again", path=uri
        ) from e
    if record is None:
        artifact = artifact_type(uri, fingerprint=fingerprint(uri))
    else:
        outputs = record.get("outputs")
        output = outputs.get(os.path.basename(output_dir)) if isinstance(outputs, dict) else None
        if record.get("status") != "complete" or output is None:
            raise InputError(f"not a complete output (status {record.get('status')})", path=uri)
        try:
            artifact = Artifact.from_json(output, root)
        except (KeyError, TypeError, ValueError) as e:
            raise InputError(
                f"its execution record is damaged ({e!r}): run its step again", path=uri
            ) from e
    if not isinstance(artifact, artifact_type):
        raise InputError(f"is a {artifact.type_name}, not a {artifact_type.__name__}", path=uri)
    return artifact


def execute(
    component: Component,
    root: str,
    inputs: Mapping[str, Artifact | None] | None = None,
    params: Mapping[str, Any] | None = None,
    *,
    node: str | None = None,
    on_run: Callable[[], None] | None = None,
) -> Execution:
    """Runs `component` under `root` unless a complete execution with its cache key exists.

    Args:
      component: what to run.
      root: the run root.
      inputs: input artifacts by name (complete outputs, or external folders).
      params: parameter values; missing ones take their defaults.
      node: the folder under `root` (default: the component's name).
      on_run: called just before the component's function, when it is not cached.

    Returns:
      The execution, with `cached` telling whether it was reused.

    Raises:
      ComponentError: the function raised; earlier outputs are kept.
    """
    root, node = os.path.abspath(root), node or component.name
    params = component.bind_parameters(params or {})
    inputs = dict(inputs or {})
    for name in {*component.inputs, *inputs}:
        artifact = inputs.setdefault(name, None)
        component.check_input(name, artifact and type(artifact))
        if artifact is not None and artifact.fingerprint is None:  # an external input
            if not os.path.exists(artifact.uri):
                raise InputError(f"input {name!r} of {node!r} does not exist", path=artifact.uri)
            artifact.fingerprint = fingerprint(artifact.uri)
    key = cache_key(component, params, inputs)
    execution_id = key[:16]
    node_dir = os.path.join(root, node)
    try:
        os.makedirs(node_dir, exist_ok=True)
    except OSError as e:
        raise InputError(f"cannot make the folder of node {node!r} ({e})", path=node_dir) from e
    with locked(os.path.join(node_dir, ".lock")):
        done = _complete_execution(root, node, execution_id, key)
        if done is not None:
            done.cached = True
            return done
        execution = Execution(
            node=node,
            component=component.name,
            id=execution_id,
            cache_key=key,
            code_version=component.code_version,
            status="running",
            parameters=params,
            inputs=inputs,
            outputs={},
            started=utc_now(),
        )
        if on_run is not None:
            on_run()
        _run(component, root, execution)
        return execution


def _complete_execution(root: str, node: str, execution_id: str, key: str) -> Execution | None:
    """The complete execution recorded under `execution_id` with cache key `key`, if any.

    A record that cannot be read or makes no sense (damaged outside the
    runner) counts as absent, with a warning: the step runs again and its
    new record replaces the damaged one, instead of failing on it forever.
    """
    path = record_path(root, node, execution_id)
    try:
        record = read_json(path)
        if record is None:
            return None
        if not isinstance(record.get("status"), str) or not isinstance(
            record.get("cache_key"), str
        ):
            raise ValueError("no status or cache key")
        if record["status"] != "complete" or record["cache_key"] != key:
            return None
        done = Execution.from_json(record, root)
    except (InputError, KeyError, TypeError, ValueError, AttributeError) as e:
        reason = e.__cause__ if isinstance(e, InputError) and e.__cause__ else e
        logging.warning(
            "%s: damaged execution record (%s: %s): running %s again",
            path,
            type(reason).__name__,
            reason,
            node,
        )
        return None
    if all(os.path.isdir(a.uri) for a in done.outputs.values()):
        return done
    return None


def _run(component: Component, root: str, execution: Execution) -> None:
    node_dir = os.path.join(root, execution.node)
    temporary, final = {}, {}
    for name, kind in component.outputs.items():
        out_dir = os.path.join(node_dir, name)
        os.makedirs(out_dir, exist_ok=True)
        for entry in os.listdir(out_dir):  # left by a killed attempt: we hold the lock
            if entry.startswith(TMP_PREFIX) or entry == execution.id:
                shutil.rmtree(os.path.join(out_dir, entry))
        temporary[name] = kind(os.path.join(out_dir, TMP_PREFIX + execution.id))
        final[name] = os.path.join(out_dir, execution.id)
        os.makedirs(temporary[name].uri)
    work_dir = os.path.join(node_dir, WORK_DIR, execution.id)
    path = record_path(root, execution.node, execution.id)
    write_json(path, execution.to_json(root))
    start = time.monotonic()
    try:
        kwargs = {**execution.inputs, **temporary, **execution.parameters}
        if component.context_arg:
            os.makedirs(work_dir, exist_ok=True)
            kwargs[component.context_arg] = Context(root, execution.node, execution.id, work_dir)
        component.fn(**kwargs)
        for artifact in temporary.values():
            canonical_json(artifact.properties)
            artifact.fingerprint = fingerprint(artifact.uri)
        for name, artifact in temporary.items():
            os.replace(artifact.uri, final[name])
            artifact.uri = final[name]
    except BaseException as e:
        execution.status = "failed"
        execution.error = "".join(traceback.format_exception(e))
        execution.ended, execution.seconds = utc_now(), time.monotonic() - start
        write_json(path, execution.to_json(root))
        for artifact in temporary.values():
            shutil.rmtree(artifact.uri, ignore_errors=True)
        if isinstance(e, Exception):
            raise ComponentError(execution.node, f"{type(e).__name__}: {e}", path) from e
        raise
    execution.outputs = temporary
    execution.status = "complete"
    execution.ended, execution.seconds = utc_now(), time.monotonic() - start
    write_json(path, execution.to_json(root))  # the commit point
    if component.context_arg:
        shutil.rmtree(work_dir, ignore_errors=True)
