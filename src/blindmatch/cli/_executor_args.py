"""``--executor``: run a command's PSI work on the lab's own Dask cluster (``docs/scaling-dask.md``).

Given per command (never saved in a ``psi`` state file). Forms:

* ``tls://HOST:PORT`` -- TLS, with ``--executor-tls-ca`` and ``--executor-tls-cert`` (and ``-key``);
* ``dask-scheduler-file:PATH`` -- the address a ``dask scheduler --scheduler-file`` wrote (TLS or not:
  the address's scheme decides);
* ``dask://HOST:PORT`` (also ``tcp://``) -- plain TCP: refused unless ``--executor-insecure``, which
  accepts loopback addresses only (local tests).
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from typing import Any

from ..errors import InvalidParameter
from ..executors import DaskExecutor, ExecutorError, load_distributed
from .exitcodes import CliError, ExitCode

__all__ = ["add_executor_args", "executor_scope", "parse_executor_spec"]

_FILE_PREFIX = "dask-scheduler-file:"


def add_executor_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("Dask executor (docs/scaling-dask.md)")
    g.add_argument("--executor", metavar="SPEC",
                   help="run the PSI work on our own Dask cluster: tls://HOST:PORT, "
                   "dask-scheduler-file:PATH, or dask://HOST:PORT (plain TCP, with --executor-insecure "
                   "only); the cluster sees our items and secret scalars. Not with --workers")  # fmt: skip
    g.add_argument(
        "--executor-insecure",
        action="store_true",
        help="accept a plain-TCP scheduler on a loopback address (local tests only)",
    )
    g.add_argument("--executor-tls-ca", metavar="FILE", help="CA certificate of the cluster (tls://)")
    g.add_argument("--executor-tls-cert", metavar="FILE", help="our client certificate for the cluster")
    g.add_argument("--executor-tls-key", metavar="FILE",
                   help="its private key (if not in --executor-tls-cert)")  # fmt: skip


def parse_executor_spec(spec: str) -> tuple[str | None, str | None]:
    """``(address, scheduler_file)`` of an ``--executor`` value; raises InvalidParameter."""
    if spec.startswith(_FILE_PREFIX):
        path = spec[len(_FILE_PREFIX) :]
        if not path:
            raise InvalidParameter("--executor dask-scheduler-file: needs a path")
        return None, path
    for scheme, dask_scheme in (("dask://", "tcp://"), ("tcp://", "tcp://"), ("tls://", "tls://")):
        if spec.startswith(scheme) and len(spec) > len(scheme):
            return dask_scheme + spec[len(scheme) :], None
    raise InvalidParameter(
        "--executor: expected tls://HOST:PORT, dask-scheduler-file:PATH or dask://HOST:PORT"
    )


def _security(args: argparse.Namespace) -> Any:
    ca, cert, key = args.executor_tls_ca, args.executor_tls_cert, args.executor_tls_key
    if ca is None and cert is None and key is None:
        return None
    if ca is None or cert is None:
        raise InvalidParameter("--executor-tls-ca and --executor-tls-cert go together")
    security = load_distributed().security.Security
    return security(tls_ca_file=ca, tls_client_cert=cert, tls_client_key=key, require_encryption=True)


@contextlib.contextmanager
def executor_scope(args: argparse.Namespace) -> Iterator[DaskExecutor | None]:
    """The Dask executor of ``--executor`` (None without it), closed at the end; usage errors exit 2,
    a scheduler that cannot be reached exits 5."""
    spec = getattr(args, "executor", None)
    if spec is None:
        if any(getattr(args, f"executor_{k}", None) for k in ("insecure", "tls_ca", "tls_cert", "tls_key")):
            raise CliError(ExitCode.USAGE, "the --executor-* options need --executor")
        yield None
        return
    if getattr(args, "workers", None) is not None:
        raise CliError(ExitCode.USAGE, "give --workers or --executor, not both")
    try:
        address, scheduler_file = parse_executor_spec(spec)
        if address is not None and address.startswith("tls://") and args.executor_tls_ca is None:
            raise InvalidParameter("--executor tls://...: give --executor-tls-ca and --executor-tls-cert")
        ex = DaskExecutor.connect(
            address, scheduler_file=scheduler_file, security=_security(args),
            allow_insecure=args.executor_insecure,
        )  # fmt: skip
    except ExecutorError as exc:
        raise CliError(ExitCode.LOCAL, f"--executor: {exc}") from None
    except InvalidParameter as exc:
        raise CliError(ExitCode.USAGE, str(exc)) from None
    with ex:
        yield ex
