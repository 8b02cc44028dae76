"""`yrd catalogue`, `yrd case` and `yrd stats` through click's runner against real nodes."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from federation.cases.catalogue import starter_catalogue
from federation.codes import make_credit_code
from nodes.cli import root
from nodes.client import FederationClient
from nodes.demo.licences import business_fields
from tests._support.nodes import eventually, new_citizen, template

ITEM = "YRD-JS-QY-0101"
PASSWORD = "Huangshan-peak-90"
CASE_COMMANDS = [
    "submit",
    "face",
    "show",
    "list",
    "watch",
    "decide",
    "supplement",
    "rate",
    "export",
    "verify-archive",
]


LIFECYCLE = [
    "submitted",
    "accepted",
    "under_review",
    "returned",
    "submitted",
    "accepted",
    "under_review",
    "approved",
    "result_issued",
    "closed",
]


def run(*args: str) -> Result:
    return CliRunner().invoke(root, list(args))


def yrd(command: str, *arguments: str, **options: str | list[str]) -> Result:
    """`yrd COMMAND --opt value ... ARGUMENTS`; a list value repeats its option."""
    argv = command.split()
    for name, value in options.items():
        for one in value if isinstance(value, list) else [value]:
            argv += [f"--{name.replace('_', '-')}", one]
    return run(*argv, *arguments)


def ok(result: Result) -> Any:
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return json.loads(result.stdout)


def refused(result: Result, code: str, exit_code: int) -> str:
    """A domain error: JSON on stderr, nothing on stdout, the code's exit status."""
    assert result.exit_code == exit_code, (result.stdout, result.stderr)
    assert result.stdout == ""
    error = json.loads(result.stderr)
    assert error["error"] == code
    return str(error["message"])


@pytest.fixture(scope="module")
def fed(fed_dir: Path, client: FederationClient) -> str:
    """The federation directory, once the hub's catalogue holds every starter item."""
    full = len(starter_catalogue().items)

    def ready() -> None:
        for region in ("HUB", "SH", "JS"):
            listed = ok(run("catalogue", "list", "--dir", str(fed_dir), "--region", region))
            assert listed["count"] == full

    eventually(ready, timeout_s=30)
    return str(fed_dir)


def test_every_case_and_catalogue_command_has_help() -> None:
    commands = [
        ["catalogue"],
        ["catalogue", "list"],
        ["catalogue", "show"],
        ["case"],
        *[["case", name] for name in CASE_COMMANDS],
        ["stats"],
    ]
    for command in commands:
        result = run(*command, "--help")
        assert result.exit_code == 0, (command, result.output)
        assert "Usage:" in result.stdout, command
    assert "--region" in run("stats", "--help").stdout
    assert "TYPE:IDENTIFIER@OWNER_REGION" in run("case", "submit", "--help").stdout
    listing = run("case", "list", "--help").stdout
    for option in ("--region", "--owner", "--state", "--item", "--window-id", "--page-size"):
        assert option in listing
    assert "--page-token" in listing and "--all" in listing


def test_every_case_list_option_has_help() -> None:
    from nodes.cli.case import case_list

    for param in case_list.params:
        if param.name != "directory":
            assert getattr(param, "help", None), param.name


def test_catalogue_list_and_show(fed: str) -> None:
    listed = ok(run("catalogue", "list", "--dir", fed))
    assert listed["version"] >= 1 and listed["count"] == len(listed["items"]) >= 20
    assert {i["owner_region"] for i in listed["items"]} == {
        "310000",
        "320000",
        "330000",
        "340000",
    }
    js = ok(run("catalogue", "list", "--dir", fed, "--owner", "JS"))
    assert js["count"] >= 5 and {i["owner_region"] for i in js["items"]} == {"320000"}
    change = next(i for i in js["items"] if i["code"] == ITEM)
    assert change["acr"] == "substantial" and change["face_required"] is True
    assert change["licences"] == ["business_licence", "resident_identity_card"]

    shown = ok(run("catalogue", "show", "--dir", fed, "--region", "JS", ITEM))
    assert shown == starter_catalogue().get(ITEM).to_dict()

    message = refused(run("catalogue", "show", "--dir", fed, "YRD-JS-QY-0109"), "NOT_FOUND", 5)
    assert "did you mean" in message and ITEM in message
    message = refused(
        run("catalogue", "list", "--dir", fed, "--owner", "Atlantis"), "INVALID_ARGUMENT", 2
    )
    assert "Atlantis" in message


def test_a_case_through_the_command_line(
    fed: str, client: FederationClient, tmp_path: Path
) -> None:
    citizen = new_citizen("340104")
    face = template(9001)
    company = make_credit_code("9", "1", "320506", "MA" + secrets.token_hex(3).upper())
    tag = secrets.token_hex(4)
    window = f"SH-CLI-{tag}"
    client.register("ZJ", "natural", citizen, "李娜", PASSWORD)
    client.enrol_face("ZJ", citizen, PASSWORD, face)
    biz = client.issue_licence(
        "JS",
        f"cli-biz-{tag}",
        "business_licence",
        company,
        "苏州湖畔科技有限公司",
        {**business_fields("李娜"), "legal_representative_id": citizen},
    ).identifier
    idc = client.issue_licence(
        "AH",
        f"cli-idc-{tag}",
        "resident_identity_card",
        citizen,
        "李娜",
        {
            "sex": "female",
            "ethnicity": "汉",
            "birth_date": "1990-09-09",
            "address": "合肥市蜀山区长江西路 1 号",
            "photo_digest": "sha256:" + "cd" * 32,
        },
        valid_until="2040-09-09",
    ).identifier
    login = client.login("ZJ", citizen, PASSWORD, ["JS", "AH"], "substantial", face)

    def token(region: str) -> str:
        return client.issue_token("ZJ", login.session_id, login.session_secret, region)

    face_file = tmp_path / "face.json"
    face_file.write_text(json.dumps(face))
    checked = ok(yrd("case face", dir=fed, region="SH", id=citizen, face=str(face_file)))
    assert checked["match"] is True and checked["assertion"]

    def submit(request_id: str, materials: list[str]) -> Result:
        return yrd(
            "case submit",
            dir=fed,
            region="SH",
            item=ITEM,
            window_id=window,
            token=token("JS"),
            face_assertion=checked["assertion"],
            on_behalf_of=company,
            request="domicile=苏州工业园区金鸡湖大道 88 号",
            request_id=request_id,
            consent=f"AH={token('AH')}",
            material=materials,
        )

    biz_ref = f"business_licence:{biz}@JS"
    idc_ref = f"resident_identity_card:{idc}@AH"
    message = refused(submit(f"cli-miss-{tag}", [biz_ref]), "FAILED_PRECONDITION", 7)
    assert "missing material" in message and "resident_identity_card" in message
    message = refused(submit(f"cli-bad-{tag}", ["business_licence"]), "INVALID_ARGUMENT", 2)
    assert "TYPE:IDENTIFIER@OWNER" in message

    filed = ok(submit(f"cli-{tag}", [biz_ref, idc_ref]))
    case_id = filed["case_id"]
    assert filed["state"] == "accepted" and filed["created"] is True
    assert filed["owner_region"] == "320000" and filed["window_id"] == window
    assert filed["data"]["requested"] == {"domicile": "苏州工业园区金鸡湖大道 88 号"}

    shown = ok(yrd("case show", case_id, dir=fed, region="SH", owner="JS"))
    assert shown["case_id"] == case_id and shown["state"] == "accepted"
    assert shown["applicant_id"] == citizen and shown.get("overdue", False) is False
    assert {m["identifier"] for m in shown["data"]["materials"]} == {biz, idc}

    def decide(region: str, action: str, **more: str) -> Result:
        more.setdefault("reviewer", "JS-AMR-7")
        return yrd("case decide", case_id, dir=fed, region=region, action=action, **more)

    # every decision names its reviewer: click refuses a decision without one
    no_reviewer = yrd("case decide", case_id, dir=fed, region="JS", action="start_review")
    assert no_reviewer.exit_code == 2 and "--reviewer" in no_reviewer.stderr
    assert "reviewer is required" in refused(
        decide("JS", "start_review", reviewer="bad id!"), "INVALID_ARGUMENT", 2
    )
    queue = ok(yrd("case list", dir=fed, region="JS", state="accepted", window_id=window))
    assert [c["case_id"] for c in queue["cases"]] == [case_id]
    assert queue["next_page_token"] == ""
    seen_from_window = ok(yrd("case list", dir=fed, region="SH", owner="JS", window_id=window))
    assert [c["case_id"] for c in seen_from_window["cases"]] == [case_id]
    empty = ok(yrd("case list", dir=fed, region="JS", state="closed", window_id=window))
    assert empty == {"cases": [], "next_page_token": ""}
    assert yrd("case list", dir=fed, region="JS", state="pending").exit_code == 2
    assert yrd("case list", dir=fed, region="JS", page_size="101").exit_code == 2
    message = refused(
        yrd("case list", dir=fed, region="JS", page_token="not-a-token"), "INVALID_ARGUMENT", 2
    )
    assert "page_token" in message

    # Shanghai does not own the item; approving an accepted case is a forbidden transition
    assert "belongs to region 320000" in refused(decide("SH", "approve"), "PERMISSION_DENIED", 4)
    refused(decide("JS", "approve"), "FAILED_PRECONDITION", 7)
    assert ok(decide("JS", "start_review", reviewer="JS-AMR-7"))["state"] == "under_review"
    assert "reason" in refused(decide("JS", "return"), "INVALID_ARGUMENT", 2)
    returned = ok(decide("JS", "return", reason="注明新住所", reviewer="JS-AMR-7"))
    assert returned["state"] == "returned" and returned["data"]["returns"] == 1
    supplemented = ok(
        yrd(
            "case supplement",
            case_id,
            dir=fed,
            region="SH",
            owner="JS",
            token=token("JS"),
            note="已补充",
            request="domicile=苏州工业园区金鸡湖大道 88 号 2 幢",
        )
    )
    assert supplemented["state"] == "accepted"
    ok(decide("JS", "start_review"))
    closed = ok(decide("JS", "approve", reason="材料齐全"))
    assert closed["state"] == "closed" and closed["data"]["result_licence"]

    watched = yrd("case watch", case_id, dir=fed, region="SH", owner="JS", max_seconds="10")
    assert watched.exit_code == 0, watched.stderr
    events = [json.loads(line) for line in watched.stdout.splitlines()]
    assert [e["to_state"] for e in events] == LIFECYCLE
    assert [int(e["seq"]) for e in events] == list(range(1, 11))  # int64: JSON strings
    assert events[3]["detail"]["reason"] == "注明新住所"

    def rate(score: str) -> Result:
        return yrd(
            "case rate",
            case_id,
            dir=fed,
            region="SH",
            owner="JS",
            token=token("JS"),
            score=score,
            reason="一次办成",
        )

    assert rate("6").exit_code == 2  # click refuses it before any call
    rated = ok(rate("4"))
    assert rated["case_id"] == case_id and rated["score"] == 4
    refused(rate("5"), "ALREADY_EXISTS", 6)

    out = tmp_path / "case.archive.json"
    exported = ok(yrd("case export", case_id, dir=fed, region="JS", out=str(out)))
    assert exported["case_id"] == case_id and exported["bytes"] == out.stat().st_size > 0
    verified = ok(yrd("case verify-archive", str(out), dir=fed))
    assert verified["valid"] is True and verified["case_id"] == case_id
    assert verified["owner_region"] == "320000" and verified["item_code"] == ITEM
    assert verified["archive"]["rating"]["score"] == 4
    assert len(verified["archive"]["events"]) == 10
    decisions = verified["archive"]["decisions"]
    assert [(d["action"], d["reviewer"]) for d in decisions] == [
        ("start_review", "JS-AMR-7"),
        ("return", "JS-AMR-7"),
        ("start_review", "JS-AMR-7"),
        ("approve", "JS-AMR-7"),
    ]
    assert closed["reviewer"] == "JS-AMR-7"

    envelope = json.loads(out.read_text(encoding="utf-8"))
    header, payload, signature = envelope["token"].split(".")
    altered = "AAAA" if payload[-4:] != "AAAA" else "BBBB"
    envelope["token"] = f"{header}.{payload[:-4]}{altered}.{signature}"
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(envelope), encoding="utf-8")
    forged_result = yrd("case verify-archive", str(forged), dir=fed)
    assert forged_result.exit_code != 0 and forged_result.stdout == ""
    assert json.loads(forged_result.stderr)["error"] in ("UNAUTHENTICATED", "INVALID_ARGUMENT")
    not_archive = tmp_path / "other.json"
    not_archive.write_text('{"format": "something else"}', encoding="utf-8")
    refused(yrd("case verify-archive", str(not_archive), dir=fed), "INVALID_ARGUMENT", 2)

    stats = ok(yrd("stats", dir=fed, region="JS"))
    assert "320000" in stats["owner_regions"]
    mine = next(w for w in stats["windows"] if w["window_id"] == window)
    assert (mine["volume"], mine["approved"], mine["returned"]) == (1, 1, 1)
    assert mine["first_time_success_rate"] == 0.0
    assert mine["ratings"]["count"] == 1 and mine["ratings"]["mean"] == 4.0
    item = next(i for i in stats["items"] if i["item_code"] == ITEM)
    assert item["volume"] >= 1


def test_case_commands_report_errors_as_json(fed: str, tmp_path: Path) -> None:
    unknown = "C32-00000000000000000000"
    refused(yrd("case show", unknown, dir=fed, region="JS", owner="JS"), "NOT_FOUND", 5)
    out = tmp_path / "never.json"
    refused(yrd("case export", unknown, dir=fed, region="JS", out=str(out)), "NOT_FOUND", 5)
    assert not out.exists()
    message = refused(yrd("stats", dir=fed, region="Atlantis"), "INVALID_ARGUMENT", 2)
    assert "Atlantis" in message
    # the hub owns no cases: it does not serve the case service
    hub = yrd("stats", dir=fed, region="HUB")
    assert hub.exit_code != 0 and hub.stdout == ""
    assert "error" in json.loads(hub.stderr)
