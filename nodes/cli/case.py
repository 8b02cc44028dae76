"""`yrd catalogue`, `yrd case`, `yrd stats`: the remote virtual window from a shell."""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path
from typing import Any

import click

from federation.cases.states import CaseState
from federation.errors import InvalidArgument
from federation.regions import parse_region
from nodes.cli.common import dir_option, domain_errors, emit, emit_line, parse_pairs

region_option = click.option("--region", required=True, help="Region asked (code or SH/JS/ZJ/AH).")
owner_option = click.option("--owner", required=True, help="Region owning the case's item.")


def _view(reply: Any) -> dict[str, Any]:
    from nodes.client import to_dict

    out = to_dict(reply)
    for key in ("data_json", "detail_json"):
        if key in out:
            out[key.removesuffix("_json")] = json.loads(out.pop(key))
    return out


def _materials(
    refs: tuple[str, ...], consents: tuple[str, ...], presentations: tuple[str, ...]
) -> list[Any]:
    """--material TYPE:IDENTIFIER@OWNER, --consent OWNER=TOKEN, --presentation TYPE=TEXT|@FILE."""
    from nodes.client.cases import material

    consent = {parse_region(k).code: v for k, v in parse_pairs(consents, "--consent").items()}
    out = []
    for ref in refs:
        kind, sep, rest = ref.partition(":")
        identifier, at, owner = rest.rpartition("@")
        if not sep or not at or not identifier:
            raise InvalidArgument(f"--material expects TYPE:IDENTIFIER@OWNER, got {ref!r}")
        code = parse_region(owner).code
        out.append(material(kind, identifier, code, consent.get(code, "")))
    for kind, text in parse_pairs(presentations, "--presentation").items():
        if text.startswith("@"):
            text = Path(text[1:]).read_text(encoding="utf-8").strip()
        out.append(material(kind, presentation=text))
    return out


material_options = [
    click.option(
        "--material",
        "refs",
        multiple=True,
        help="Licence reference TYPE:IDENTIFIER@OWNER_REGION (repeatable).",
    ),
    click.option(
        "--consent",
        "consents",
        multiple=True,
        help="OWNER_REGION=TOKEN: the holder's consent for reads there (repeatable).",
    ),
    click.option(
        "--presentation",
        "presentations",
        multiple=True,
        help="TYPE=PRESENTATION or TYPE=@FILE: a holder-bound presentation.",
    ),
]


def with_materials(fn: Any) -> Any:
    for option in reversed(material_options):
        fn = option(fn)
    return fn


# --- catalogue ---------------------------------------------------------------------------
@click.group()
def catalogue() -> None:
    """The signed, versioned cross-province service catalogue (跨省通办事项)."""


def _fetch_catalogue(directory: Path, region: str) -> Any:
    from federation.cases.catalogue import verify_catalogue
    from federation.trust.keys import hub_keys
    from nodes.client import FederationClient

    with FederationClient(directory) as client:
        reply = client.get_catalogue(region)
        hub_key = hub_keys(lambda: client.trust_list, time.time)
        return verify_catalogue(reply.signed_catalogue, hub_key, time.time())


@catalogue.command("list")
@dir_option
@click.option("--region", default="HUB", show_default=True, help="Node to ask.")
@click.option("--owner", default="", help="Only items owned by this region.")
@domain_errors
def catalogue_list(directory: Path, region: str, owner: str) -> None:
    """List service items (verified hub signature)."""
    cat = _fetch_catalogue(directory, region)
    items = cat.items_of(owner) if owner else cat.items
    emit(
        {
            "version": cat.version,
            "count": len(items),
            "items": [
                {
                    "code": i.code,
                    "name": i.name,
                    "owner_region": i.owner_region,
                    "acr": i.required_acr.name.lower(),
                    "time_limit_days": i.time_limit_days,
                    "face_required": i.face_required,
                    "licences": [r.licence_type for r in i.required_licences],
                }
                for i in items
            ],
        }
    )


@catalogue.command("show")
@dir_option
@click.option("--region", default="HUB", show_default=True, help="Node to ask.")
@click.argument("code")
@domain_errors
def catalogue_show(directory: Path, region: str, code: str) -> None:
    """Show one service item in full."""
    emit(_fetch_catalogue(directory, region).get(code).to_dict())


# --- case --------------------------------------------------------------------------------
@click.group()
def case() -> None:
    """Cross-province cases at a remote virtual window (远程虚拟窗口)."""


@case.command("submit")
@dir_option
@click.option("--region", required=True, help="The window's region (forwards to the owner).")
@click.option("--item", required=True, help="Service item code.")
@click.option("--window-id", required=True, help="Window identifier, e.g. SH-PD-07.")
@click.option("--token", required=True, help="Applicant's token for the owner region.")
@click.option("--face-assertion", default="", help="From `yrd case face` when required.")
@click.option("--on-behalf-of", default="", help="Enterprise credit code, when acting for one.")
@click.option("--request", "requested", multiple=True, help="Requested change name=value.")
@click.option(
    "--delivery",
    default="electronic",
    show_default=True,
    type=click.Choice(["electronic", "express", "collect_at_window"]),
)
@click.option("--note", default="")
@click.option("--request-id", default="", help="Idempotency key (default: random).")
@with_materials
@domain_errors
def case_submit(
    directory: Path,
    region: str,
    item: str,
    window_id: str,
    token: str,
    face_assertion: str,
    on_behalf_of: str,
    requested: tuple[str, ...],
    delivery: str,
    note: str,
    request_id: str,
    refs: tuple[str, ...],
    consents: tuple[str, ...],
    presentations: tuple[str, ...],
) -> None:
    """Submit a case at a window for an item owned by another region."""
    from nodes.client import FederationClient

    with FederationClient(directory) as client:
        reply = client.submit_case(
            region,
            request_id=request_id or secrets.token_hex(8),
            item_code=item,
            window_id=window_id,
            applicant_token=token,
            materials=_materials(refs, consents, presentations),
            face_assertion=face_assertion,
            on_behalf_of=on_behalf_of,
            requested=parse_pairs(requested, "--request"),
            delivery_method=delivery,
            note=note,
        )
    emit(_view(reply))


@case.command("face")
@dir_option
@click.option("--region", required=True, help="The window's region (its hub quota is used).")
@click.option("--id", "subject_id", required=True)
@click.option(
    "--face",
    "face_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
)
@domain_errors
def case_face(directory: Path, region: str, subject_id: str, face_path: Path) -> None:
    """Verify the applicant's live face at the hub; prints the signed assertion."""
    from nodes.client import FederationClient, to_dict

    template = [float(v) for v in json.loads(face_path.read_text())]
    with FederationClient(directory) as client:
        emit(to_dict(client.check_face(region, subject_id, template)))


@case.command("show")
@dir_option
@region_option
@owner_option
@click.argument("case_id")
@domain_errors
def case_show(directory: Path, region: str, owner: str, case_id: str) -> None:
    """Show a case (state, deadline, overdue flag, materials, decisions)."""
    from nodes.client import FederationClient

    with FederationClient(directory) as client:
        emit(_view(client.get_case(region, case_id, owner)))


@case.command("watch")
@dir_option
@region_option
@owner_option
@click.option("--after", default=0, show_default=True, type=click.IntRange(0))
@click.option("--max-seconds", default=60, show_default=True, type=click.IntRange(1, 600))
@click.argument("case_id")
@domain_errors
def case_watch(
    directory: Path, region: str, owner: str, after: int, max_seconds: int, case_id: str
) -> None:
    """Stream case events as JSON lines until the case closes (or --max-seconds)."""
    from nodes.client import FederationClient

    with FederationClient(directory) as client:
        for event in client.watch_case(region, case_id, owner, after, max_seconds):
            emit_line(_view(event))


@case.command("list")
@dir_option
@click.option(
    "--region",
    required=True,
    help="Region asked (code or SH/JS/ZJ/AH): the owner itself, or your window's region.",
)
@click.option(
    "--owner",
    default="",
    help="Region owning the cases (default: --region); another region forwards for you.",
)
@click.option(
    "--state",
    type=click.Choice([state.value for state in CaseState]),
    help="Only cases in this state (a reviewer's queue: accepted, under_review).",
)
@click.option("--item", "item_code", default="", help="Only cases of this service item code.")
@click.option("--window-id", default="", help="Only cases filed at this window.")
@click.option(
    "--page-size",
    default=20,
    show_default=True,
    type=click.IntRange(1, 100),
    help="Cases per page.",
)
@click.option("--page-token", default="", help="next_page_token of the previous page.")
@click.option("--all", "every_page", is_flag=True, help="Follow every page and print all cases.")
@domain_errors
def case_list(
    directory: Path,
    region: str,
    owner: str,
    state: str | None,
    item_code: str,
    window_id: str,
    page_size: int,
    page_token: str,
    every_page: bool,
) -> None:
    """List a region's cases, newest first: a reviewer's queue (e.g. --state accepted)."""
    from nodes.client import FederationClient

    filters: dict[str, Any] = {
        "owner": owner,
        "state": state or "",
        "item_code": item_code,
        "window_id": window_id,
        "page_size": page_size,
    }
    with FederationClient(directory) as client:
        if every_page:
            if page_token:
                raise InvalidArgument("--all starts from the first page; drop --page-token")
            cases = [_view(view) for view in client.iter_cases(region, **filters)]
            emit({"cases": cases, "next_page_token": ""})
            return
        page = client.list_cases(region, page_token=page_token, **filters)
        emit(
            {
                "cases": [_view(view) for view in page.cases],
                "next_page_token": page.next_page_token,
            }
        )


@case.command("decide")
@dir_option
@click.option("--region", required=True, help="The owner region (only it decides).")
@click.option(
    "--action", required=True, type=click.Choice(["start_review", "approve", "return", "reject"])
)
@click.option("--reason", default="", help="Why (required to return or reject).")
@click.option(
    "--reviewer",
    required=True,
    help="Your staff id as the deciding operator (recorded in the case and its archive).",
)
@click.option("--result", multiple=True, help="Result licence field name=value.")
@click.argument("case_id")
@domain_errors
def case_decide(
    directory: Path,
    region: str,
    action: str,
    reason: str,
    reviewer: str,
    result: tuple[str, ...],
    case_id: str,
) -> None:
    """A reviewer's decision at the owner region."""
    from nodes.client import FederationClient

    with FederationClient(directory) as client:
        emit(
            _view(
                client.decide_case(
                    region, case_id, action, reason, reviewer, parse_pairs(result, "--result")
                )
            )
        )


@case.command("supplement")
@dir_option
@click.option("--region", required=True, help="The window's region.")
@owner_option
@click.option("--token", required=True, help="Applicant's token for the owner region.")
@click.option("--note", default="")
@click.option("--request", "requested", multiple=True, help="Requested change name=value.")
@with_materials
@click.argument("case_id")
@domain_errors
def case_supplement(
    directory: Path,
    region: str,
    owner: str,
    token: str,
    note: str,
    requested: tuple[str, ...],
    refs: tuple[str, ...],
    consents: tuple[str, ...],
    presentations: tuple[str, ...],
    case_id: str,
) -> None:
    """Answer a return for supplement with new materials; the case is re-checked."""
    from nodes.client import FederationClient

    with FederationClient(directory) as client:
        emit(
            _view(
                client.supplement_case(
                    region,
                    case_id,
                    owner,
                    token,
                    _materials(refs, consents, presentations),
                    note,
                    parse_pairs(requested, "--request"),
                )
            )
        )


@case.command("rate")
@dir_option
@region_option
@owner_option
@click.option("--token", required=True, help="Applicant's token for the owner region.")
@click.option("--score", required=True, type=click.IntRange(1, 5))
@click.option("--reason", "reasons", multiple=True)
@click.option("--comment", default="")
@click.argument("case_id")
@domain_errors
def case_rate(
    directory: Path,
    region: str,
    owner: str,
    token: str,
    score: int,
    reasons: tuple[str, ...],
    comment: str,
    case_id: str,
) -> None:
    """好差评: the applicant rates a closed case (1-5)."""
    from nodes.client import FederationClient, to_dict

    with FederationClient(directory) as client:
        emit(to_dict(client.rate_case(region, case_id, owner, token, score, reasons, comment)))


@case.command("export")
@dir_option
@click.option("--region", required=True, help="The owner region.")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.argument("case_id")
@domain_errors
def case_export(directory: Path, region: str, out: Path, case_id: str) -> None:
    """Write the sealed archive of a closed case to a file."""
    from federation.cases.archive import archive_file_text
    from nodes.client import FederationClient

    with FederationClient(directory) as client:
        token = client.export_case(region, case_id)
    out.write_text(archive_file_text(token), encoding="utf-8")
    emit({"case_id": case_id, "archive": str(out), "bytes": out.stat().st_size})


@case.command("verify-archive")
@dir_option
@click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@domain_errors
def case_verify_archive(directory: Path, archive: Path) -> None:
    """Check an archive file offline against the federation directory's trust list."""
    from federation.cases.archive import read_archive_file, verify_archive
    from federation.trust.keys import seal_keys as seal_key_resolver
    from nodes.ops.provisioning import Layout, read_trust_list

    trust = read_trust_list(Layout(directory.resolve()))
    seal_keys = seal_key_resolver(lambda: trust, time.time)
    verified = verify_archive(
        read_archive_file(archive.read_text(encoding="utf-8")), seal_keys, time.time()
    )
    emit(
        {"valid": True, **verified.to_dict()}
        if hasattr(verified, "to_dict")
        else {"valid": True, "archive": str(archive)}
    )


@click.command("stats")
@dir_option
@region_option
@domain_errors
def stats(directory: Path, region: str) -> None:
    """Per-item and per-window statistics of the cases a region owns."""
    from nodes.client import FederationClient

    with FederationClient(directory) as client:
        emit(client.stats(region))
