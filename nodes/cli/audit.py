"""`yrd audit`: verify a node's hash-chained audit log and show its last entries."""

from __future__ import annotations

from pathlib import Path

import click

from nodes.cli.common import domain_errors, emit


@click.group()
def audit() -> None:
    """Inspect and verify a node's hash-chained audit log."""


@audit.command("verify")
@click.option("--config", "config_path", required=True, type=click.Path(path_type=Path))
@domain_errors
def audit_verify(config_path: Path) -> None:
    """Check the chain; reports the first tampered entry. Exit 10 when broken."""
    from federation.audit import verify_chain
    from federation.errors import IntegrityError
    from federation.storage import open_store
    from nodes.config import load_config

    store = open_store(load_config(config_path).store_url)
    try:
        report = verify_chain(store.audit_entries())
    finally:
        store.close()
    emit(report.to_dict())
    if not report.ok:
        raise IntegrityError(f"audit chain broken at entry {report.first_bad_seq}: {report.reason}")


@audit.command("show")
@click.option("--config", "config_path", required=True, type=click.Path(path_type=Path))
@click.option("--last", default=20, show_default=True, type=click.IntRange(1))
@domain_errors
def audit_show(config_path: Path, last: int) -> None:
    """Print the last entries of a node's audit log."""
    from federation.storage import open_store
    from nodes.config import load_config

    store = open_store(load_config(config_path).store_url)
    try:
        seq, _ = store.audit_head()
        emit([e.to_dict() for e in store.audit_entries(after_seq=max(0, seq - last))])
    finally:
        store.close()
