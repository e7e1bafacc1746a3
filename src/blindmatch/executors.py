"""Where a party's group work runs: this process, a local process pool, or the lab's own Dask cluster.

An :class:`Executor` is handed to a PSI party (``executor=``; ``blindmatch.psi``, ``blindmatch.session``)
and runs the party's bulk work: hash-to-group and blinding of its own items, blinding of the peer's
elements, and the partitions of the compare step. Everything else (seeds, scalars, orders, messages,
state) stays in the party's process, and every executor gives byte-identical messages and results: the
work is deterministic and cut into contiguous chunks whose results are concatenated in order.

* :class:`ProcessExecutor` -- ``workers`` local processes (``workers=N`` on the parties means
  ``ProcessExecutor(N)``); one worker runs everything in the calling process.
* :class:`DaskExecutor` -- a ``dask.distributed`` client. The work's arguments travel to the cluster,
  **including the party's secret scalar and its plaintext items** (pickled, through the scheduler), and
  may be spilled to the workers' disks: the cluster must sit inside the lab's trust boundary, and a
  scheduler address that is not ``tls://`` is refused unless ``allow_insecure=True`` (loopback
  addresses only, for local tests). See ``docs/scaling-dask.md``.

``dask.distributed`` is imported only when a Dask executor is made (``pip install 'blindmatch[dask]'``).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar, runtime_checkable

from .errors import BlindmatchError, InvalidParameter, LocalError
from .psi._parallel import chunk_count, map_chunked, pool_map, split_with_progress

__all__ = [
    "DaskExecutor",
    "Executor",
    "ExecutorError",
    "ProcessExecutor",
    "check_scheduler_address",
    "load_distributed",
    "map_elements",
    "resolve_executor",
]

R = TypeVar("R")

#: Chunks of group work per worker thread on a Dask cluster (more chunks: better balance, more overhead).
DASK_CHUNKS_PER_THREAD = 4
#: The smallest chunk of group work sent to a Dask worker, in elements.
DASK_MIN_CHUNK = 512


class ExecutorError(LocalError):
    """The executor could not run the work (a Dask cluster that failed, lost its workers, or has none).

    What the work itself raises (a :class:`~blindmatch.BlindmatchError`) propagates unchanged instead."""


@runtime_checkable
class Executor(Protocol):
    """What a party needs of an executor.

    * ``map(fn, fixed, chunks, on_done=None)``: ``[fn(*fixed, chunk) for chunk in chunks]``, in the order
      of ``chunks``. ``fn`` is a module-level (picklable) function; ``fixed`` are arguments every call
      shares (sent once). ``on_done(i)``, if given, is called in the calling thread as chunk ``i`` is done.
    * ``split(n)``: how many contiguous chunks ``n`` elements of work should be cut into (at least 1). It
      may depend on ``n`` and on the executor's own configuration, never on the data.
    """

    def map(
        self,
        fn: Callable[..., R],
        fixed: tuple[Any, ...],
        chunks: Sequence[Any],
        *,
        on_done: Callable[[int], None] | None = None,
    ) -> list[R]: ...

    def split(self, n: int) -> int: ...


class ProcessExecutor:
    """``workers`` local processes (``multiprocessing``; ``fork`` where safe, else ``spawn``).

    With ``workers=1``, batches under 2048 elements, or inside a daemonic process, the work runs in the
    calling process. A pool is started per batch of work and closed after it.
    """

    def __init__(self, workers: int = 1) -> None:
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise InvalidParameter("workers must be an integer >= 1")
        self._workers = workers

    @property
    def workers(self) -> int:
        return self._workers

    def __repr__(self) -> str:
        return f"ProcessExecutor(workers={self._workers})"

    def split(self, n: int) -> int:
        return chunk_count(n, self._workers)

    def map(
        self,
        fn: Callable[..., R],
        fixed: tuple[Any, ...],
        chunks: Sequence[Any],
        *,
        on_done: Callable[[int], None] | None = None,
    ) -> list[R]:
        return pool_map(fn, fixed, chunks, self._workers, on_done)


def resolve_executor(workers: int | None, executor: Executor | None) -> Executor:
    """The executor of a party given ``workers=`` and ``executor=`` (neither: one process)."""
    if executor is None:
        return ProcessExecutor(1 if workers is None else workers)
    if workers is not None:
        raise InvalidParameter("give workers= or executor=, not both")
    if not isinstance(executor, Executor):
        raise InvalidParameter("executor must provide map() and split() (see blindmatch.executors.Executor)")
    return executor


def map_elements(
    executor: Executor,
    fn: Callable[..., list[R]],
    fixed: tuple[Any, ...],
    seq: Sequence[Any],
    progress: Callable[[int, int], None] | None = None,
) -> list[R]:
    """``fn(*fixed, seq)`` computed by ``executor`` over contiguous chunks of ``seq``, concatenated in order.

    ``fn`` works element by element, so the result equals ``fn(*fixed, seq)`` however ``seq`` is cut.
    ``progress(done, total)``: as in :func:`blindmatch.psi._parallel.map_chunked` (which is exactly what a
    :class:`ProcessExecutor` runs).
    """
    if isinstance(executor, ProcessExecutor):
        return map_chunked(fn, fixed, seq, executor.workers, progress)
    n = len(seq)
    chunks, on_done = split_with_progress(seq, max(1, min(executor.split(n), n)), progress)

    out: list[R] = []
    for part in executor.map(fn, fixed, chunks, on_done=on_done):
        out.extend(part)
    return out


# --- Dask ---


def load_distributed() -> Any:
    """The ``distributed`` module, or :class:`~blindmatch.InvalidParameter` when it is not installed."""
    try:
        import distributed
    except ImportError:
        raise InvalidParameter(
            "the Dask executor needs dask.distributed, which is not installed: pip install 'blindmatch[dask]'"
        ) from None
    return distributed


def _host_of(rest: str) -> str:
    """The host of ``HOST:PORT``, ``[IPv6]:PORT`` or ``HOST``."""
    if rest.startswith("["):
        return rest[1 : rest.find("]")] if "]" in rest else rest
    return rest.rsplit(":", 1)[0] if rest.count(":") == 1 else rest


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_scheduler_address(address: str, *, allow_insecure: bool = False, what: str = "scheduler") -> None:
    """Refuse a Dask address that is not ``tls://``; with ``allow_insecure``, accept plain ``tcp://`` (and
    ``inproc://``) on loopback addresses only. Raises :class:`~blindmatch.InvalidParameter`."""
    if not isinstance(address, str) or "://" not in address:
        raise InvalidParameter(f"the Dask {what} address must look like tls://HOST:PORT")
    scheme, rest = address.split("://", 1)
    if scheme == "tls":
        return
    if not allow_insecure:
        raise InvalidParameter(
            f"the Dask {what} address is {scheme}://, not tls://: the secret scalars and the items would "
            "travel in plaintext (configure TLS; allow_insecure=True is for loopback tests only)"
        )
    if scheme == "inproc" or (scheme == "tcp" and _is_loopback(_host_of(rest))):
        return
    raise InvalidParameter(
        f"the Dask {what} address {scheme}://... is not a loopback address: allow_insecure=True accepts "
        "plain TCP on loopback only; configure TLS"
    )


def _scheduler_file_address(path: str) -> str:
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        address = doc["address"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InvalidParameter(f"cannot read the Dask scheduler file {path}: {type(exc).__name__}") from None
    if not isinstance(address, str):
        raise InvalidParameter(f"the Dask scheduler file {path} holds no address")
    return address


class DaskExecutor:
    """One Dask task per chunk of work, on the cluster of a ``dask.distributed.Client``.

    The client must be synchronous, and its scheduler's address ``tls://`` (else
    :class:`~blindmatch.InvalidParameter`) unless ``allow_insecure=True``, which accepts plain TCP on a
    loopback address only (a ``LocalCluster`` in tests). The workers' addresses are checked the same way
    before each batch of work. The shared arguments (the secret scalar among them) are scattered once per
    batch, each chunk of items is scattered to the cluster, and everything is released as soon as the
    batch is gathered; the workers must have the same version of blindmatch installed.
    """

    def __init__(self, client: Any, *, allow_insecure: bool = False) -> None:
        if getattr(client, "asynchronous", False):
            raise InvalidParameter("the Dask client must be synchronous (asynchronous=False)")
        scheduler = getattr(client, "scheduler", None)
        address = getattr(scheduler, "address", None)
        if not isinstance(address, str):
            raise InvalidParameter("client must be a connected dask.distributed.Client")
        check_scheduler_address(address, allow_insecure=allow_insecure)
        self._client = client
        self._allow_insecure = bool(allow_insecure)
        self._owns_client = False

    @classmethod
    def connect(
        cls,
        address: str | None = None,
        *,
        scheduler_file: str | None = None,
        security: Any = None,
        allow_insecure: bool = False,
        timeout: float = 30.0,
    ) -> DaskExecutor:
        """Connect to a scheduler by address or scheduler file; the executor closes this client in
        :meth:`close`. The address is checked before any connection is made. ``security``: a
        ``distributed.security.Security`` (needed for ``tls://``)."""
        if (address is None) == (scheduler_file is None):
            raise InvalidParameter("give a Dask scheduler address or a scheduler file, not both")
        where = address if address is not None else _scheduler_file_address(str(scheduler_file))
        check_scheduler_address(where, allow_insecure=allow_insecure)
        distributed = load_distributed()
        try:
            client = distributed.Client(where, security=security, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise ExecutorError(
                f"cannot connect to the Dask scheduler: {type(exc).__name__}: {exc}"
            ) from None
        try:
            ex = cls(client, allow_insecure=allow_insecure)
        except BaseException:
            client.close()
            raise
        ex._owns_client = True
        return ex

    @property
    def client(self) -> Any:
        return self._client

    def __repr__(self) -> str:
        return f"DaskExecutor({self._client.scheduler.address!r})"

    def close(self) -> None:
        """Close the client if :meth:`connect` made it (a client passed in stays the caller's)."""
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> DaskExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _threads(self) -> int:
        """Worker threads of the cluster now, after checking every worker's address."""
        try:
            nthreads: dict[str, int] = self._client.nthreads()
        except (OSError, TimeoutError) as exc:
            raise ExecutorError(f"the Dask scheduler failed: {type(exc).__name__}: {exc}") from None
        if not nthreads:
            raise ExecutorError("the Dask cluster has no workers")
        for address in nthreads:
            check_scheduler_address(address, allow_insecure=self._allow_insecure, what="worker")
        return sum(nthreads.values())

    def split(self, n: int) -> int:
        return max(1, min(self._threads() * DASK_CHUNKS_PER_THREAD, n // DASK_MIN_CHUNK))

    def map(
        self,
        fn: Callable[..., R],
        fixed: tuple[Any, ...],
        chunks: Sequence[Any],
        *,
        on_done: Callable[[int], None] | None = None,
    ) -> list[R]:
        if not chunks:
            return []
        self._threads()
        distributed = load_distributed()
        client = self._client
        # the client as the current one (a Future passed as an argument looks it up), in this thread only
        with client.as_current():
            return self._run(distributed, fn, fixed, chunks, on_done)

    def _run(
        self,
        distributed: Any,
        fn: Callable[..., R],
        fixed: tuple[Any, ...],
        chunks: Sequence[Any],
        on_done: Callable[[int], None] | None,
    ) -> list[R]:
        client = self._client
        held: list[Any] = []  # every future of this batch: released at the end, whatever happens
        try:
            with _cluster_errors():
                shared = client.scatter(list(fixed), hash=False) if fixed else []
                held += shared
                data = client.scatter([_Box(c) for c in chunks], hash=False)
                held += data
                name = getattr(fn, "__name__", "task")  # keys name the function only, never data
                futures = [
                    client.submit(_boxed, fn, *shared, d, key=f"{name}-{uuid.uuid4().hex}") for d in data
                ]
                held += futures
                done = distributed.as_completed(futures, with_results=True)
            index = {f.key: i for i, f in enumerate(futures)}
            out: list[Any] = [None] * len(futures)
            for _ in futures:
                with _cluster_errors():
                    future, result = next(done)
                i = index[future.key]
                out[i] = result.value
                if on_done is not None:  # outside _cluster_errors: what the callback raises propagates
                    on_done(i)
            return out
        finally:
            for f in held:
                f.release()


class _Box:
    """One chunk or result as one object: Dask serializes a list element by element, which for thousands
    of short byte strings costs some 25 us each (0.4 s per 2^14), against one pickle of the whole."""

    def __init__(self, value: Any) -> None:
        self.value = value


def _boxed(fn: Callable[..., Any], *args: Any) -> _Box:
    """The task: ``fn(*fixed, chunk)`` on a boxed chunk, its result boxed (``args`` ends with the box)."""
    *fixed, box = args
    return _Box(fn(*fixed, box.value))


@contextlib.contextmanager
def _cluster_errors() -> Iterator[None]:
    """What the work raises propagates; any other failure of the cluster becomes :class:`ExecutorError`."""
    try:
        yield
    except BlindmatchError:
        raise
    except Exception as exc:
        raise ExecutorError(f"the Dask cluster failed: {type(exc).__name__}: {exc}") from exc
