"""Forged tokens against VerifyToken and the token-taking RPCs, and a 16-thread replay race."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from federation.codes import make_citizen_id
from federation.crypto.jose import SigningKey, b64url_decode, b64url_encode, canonical_json
from federation.licences.presentation import create_presentation
from federation.regions import Region
from nodes.ops.provisioning import load_active_signing_key
from nodes.pb.v1 import case_pb2, identity_pb2, licence_pb2
from tests.adversarial.harness import (
    CALL_TIMEOUT_S,
    OK,
    AuditLedger,
    Harness,
    Identity,
    Tally,
    outcome_of,
    raw_unary,
)

PASSWORD = "Adversarial-pass-2026"
VERIFIER = Region.SH  # the region the forged tokens are presented to
CONNECT_TIMEOUT_S = 30.0  # a race's channels connecting, before the race (set-up, not timed)
ISSUER = Region.JS  # the subject's home region, whose genuine key we also hold
OTHER = Region.AH
REFUSED = frozenset({grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED})
REFUSED_OR_MALFORMED = REFUSED | {grpc.StatusCode.INVALID_ARGUMENT}
_serial = iter(range(1, 10**6))


def new_citizen(division: str) -> str:
    day = dt.date(1970, 1, 1) + dt.timedelta(days=secrets.randbelow(15000))
    return make_citizen_id(division, day, 100 + next(_serial) % 800)


def b64json(value: Any) -> str:
    return b64url_encode(canonical_json(value))


def jws(header_b64: str, payload_b64: str, key: SigningKey | None) -> str:
    signing_input = f"{header_b64}.{payload_b64}"
    sig = key.private.sign(signing_input.encode()) if key is not None else b""
    return f"{signing_input}.{b64url_encode(sig)}"


@dataclass
class Subject:
    """A natural person registered at `home`, with one session there."""

    subject_id: str
    home: Region
    session_id: str
    secret: str
    claims: dict[str, Any]  # a genuine token's payload, the template for forgeries


def register_and_login(harness: Harness, home: Region, audience: Region) -> Subject:
    from nodes.pb.v1 import identity_pb2_grpc

    stub = identity_pb2_grpc.IdentityServiceStub(harness.channel(home, harness.operator()))
    division = {Region.SH: "310101", Region.JS: "320102", Region.ZJ: "330106", Region.AH: "340104"}[
        home
    ]
    subject_id = new_citizen(division)
    stub.RegisterSubject(
        identity_pb2.RegisterSubjectRequest(
            kind="natural", subject_id=subject_id, name="对抗测试", password=PASSWORD
        ),
        timeout=CALL_TIMEOUT_S,
    )
    login = stub.Authenticate(
        identity_pb2.AuthenticateRequest(
            subject_id=subject_id,
            password=PASSWORD,
            audiences=[audience.code],
            requested_acr="low",
        ),
        timeout=CALL_TIMEOUT_S,
    )
    token = login.tokens[audience.entity_id]
    claims = json.loads(b64url_decode(token.split(".")[1]))
    return Subject(subject_id, home, login.session_id, login.session_secret, claims)


def issue_token(harness: Harness, subject: Subject, audience: Region) -> str:
    from nodes.pb.v1 import identity_pb2_grpc

    stub = identity_pb2_grpc.IdentityServiceStub(harness.channel(subject.home, harness.operator()))
    reply = stub.IssueToken(
        identity_pb2.IssueTokenRequest(
            session_id=subject.session_id, session_secret=subject.secret, audience=audience.code
        ),
        timeout=CALL_TIMEOUT_S,
    )
    return str(reply.token)


def region_key(harness: Harness, region: Region) -> SigningKey:
    member = harness.trust_list.member(region.entity_id)
    return load_active_signing_key(harness.layout.signing_dir(region), member.signing_keys)


# --- the forgeries ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Forgery:
    name: str
    token: str
    malformed: bool = False  # structurally broken: INVALID_ARGUMENT is precise too


def forgeries(harness: Harness, victim: Subject, other_home: Subject) -> list[Forgery]:
    """Every variant is refused by a correct verifier; each has a fresh `jti`."""
    key = region_key(harness, ISSUER)
    other_key = region_key(harness, OTHER)
    hub_key = region_key(harness, Region.HUB)
    stranger = SigningKey.generate()
    now = int(time.time())
    header = {"alg": "EdDSA", "kid": key.kid, "typ": "JWT"}

    def claims(**changes: Any) -> dict[str, Any]:
        base = dict(victim.claims)
        base.update(iat=now, exp=now + 600, jti=secrets.token_urlsafe(18), aud=VERIFIER.entity_id)
        for k, v in changes.items():
            if v is _DROP:
                base.pop(k, None)
            else:
                base[k] = v
        return base

    def signed(
        payload: dict[str, Any], hdr: dict[str, Any] | None = None, signer: SigningKey | None = key
    ) -> str:
        return jws(b64json(hdr or header), b64json(payload), signer)

    def raw(header_text: str, payload_text: str, signer: SigningKey | None = key) -> str:
        return jws(
            b64url_encode(header_text.encode()), b64url_encode(payload_text.encode()), signer
        )

    genuine = signed(claims())
    h64, p64, s64 = genuine.split(".")
    sig = bytearray(b64url_decode(s64))
    sig[5] ^= 0x01
    altered = dict(json.loads(b64url_decode(p64)), sub=other_home.subject_id)
    hs_input = f"{b64json({**header, 'alg': 'HS256'})}.{b64json(claims())}"
    hs_secret = b64url_decode(key.jwk.x)  # the published public key as an HMAC secret
    hs_sig = hmac.new(hs_secret, hs_input.encode(), hashlib.sha256).digest()

    def fresh() -> str:
        """A genuine payload as JSON text, with a jti of its own (no refusal is a replay)."""
        return canonical_json(claims()).decode()

    dup_payload_aud = fresh()[:-1] + f',"aud":"{OTHER.entity_id}"}}'
    dup_payload_sub = fresh()[:-1] + f',"sub":"{other_home.subject_id}"}}'
    out = [
        Forgery("alg none", jws(b64json({**header, "alg": "none"}), b64json(claims()), None)),
        Forgery("alg none with signature", signed(claims(), {**header, "alg": "none"})),
        Forgery("alg HS256 keyed with the public key", f"{hs_input}.{b64url_encode(hs_sig)}"),
        Forgery(
            "alg ES256 label on an EdDSA signature", signed(claims(), {**header, "alg": "ES256"})
        ),
        Forgery(  # SM2SM3 passes the members' algorithm list: the key's own alg refuses it
            "alg SM2SM3 label on an EdDSA signature", signed(claims(), {**header, "alg": "SM2SM3"})
        ),
        Forgery("alg missing", signed(claims(), {"kid": key.kid, "typ": "JWT"})),
        Forgery("unknown kid", signed(claims(), {**header, "kid": "k" * 43})),
        Forgery("kid missing", signed(claims(), {"alg": "EdDSA", "typ": "JWT"}), True),
        Forgery("signature bit flipped", f"{h64}.{p64}.{b64url_encode(bytes(sig))}"),
        Forgery("signature empty", f"{h64}.{p64}."),
        Forgery("payload altered after signing", f"{h64}.{b64json(altered)}.{s64}"),
        Forgery("expired", signed(claims(iat=now - 3600, exp=now - 1800))),
        Forgery("future iat", signed(claims(iat=now + 3600, exp=now + 3600 + 600))),
        Forgery("future nbf", signed(claims(nbf=now + 3600))),
        Forgery("exp as a string", signed(claims(exp=str(now + 600))), True),
        Forgery("iat as a string", signed(claims(iat=str(now))), True),
        Forgery("exp as a float", signed(claims(exp=now + 600.5)), True),
        Forgery("iat as a float", signed(claims(iat=now + 0.25)), True),
        Forgery("exp as a boolean-ish list", signed(claims(exp=[now + 600])), True),
        Forgery("nbf as a string", signed(claims(nbf=str(now - 10))), True),
        Forgery("exp missing", signed(claims(exp=_DROP)), True),
        Forgery("lifetime of a day", signed(claims(exp=now + 86400))),
        Forgery(
            "duplicate aud in payload, the genuine one last",
            raw(
                canonical_json(header).decode(),
                '{"aud":"' + OTHER.entity_id + '",' + fresh()[1:],
            ),
            True,
        ),
        Forgery(
            "duplicate aud in payload, a foreign one last",
            raw(canonical_json(header).decode(), dup_payload_aud),
            True,
        ),
        Forgery(
            "duplicate sub in payload", raw(canonical_json(header).decode(), dup_payload_sub), True
        ),
        Forgery(
            "duplicate alg in header",
            raw('{"alg":"none","alg":"EdDSA","kid":"' + key.kid + '","typ":"JWT"}', fresh()),
            True,
        ),
        Forgery(
            "duplicate kid in header",
            raw(
                '{"alg":"EdDSA","kid":"' + other_key.kid + '","kid":"' + key.kid + '","typ":"JWT"}',
                fresh(),
            ),
            True,
        ),
        Forgery("empty sub", signed(claims(sub=""))),
        Forgery("sub missing", signed(claims(sub=_DROP)), True),
        Forgery("wrong audience", signed(claims(aud=OTHER.entity_id))),
        Forgery("audience as a list", signed(claims(aud=[VERIFIER.entity_id])), True),
        Forgery(
            "minted by a key not in the trust list",
            signed(claims(), {**header, "kid": stranger.kid}, stranger),
        ),
        Forgery("stranger key under a listed kid", signed(claims(), header, stranger)),
        Forgery(
            "signed by the hub, which issues no tokens",
            signed(claims(iss=Region.HUB.entity_id), {**header, "kid": hub_key.kid}, hub_key),
        ),
        Forgery(
            "issuer AH for a subject whose home is JS (claims home JS)",
            signed(claims(iss=OTHER.entity_id), {**header, "kid": other_key.kid}, other_key),
        ),
        Forgery(
            "issuer AH for a subject whose home is JS (claims home AH)",
            signed(
                claims(iss=OTHER.entity_id, home=OTHER.code),
                {**header, "kid": other_key.kid},
                other_key,
            ),
        ),
        Forgery(
            "issuer JS claims key of AH",
            signed(claims(), {**header, "kid": other_key.kid}, other_key),
        ),
        Forgery("jti malformed", signed(claims(jti="x")), True),
        Forgery("typ at+jwt", signed(claims(), {**header, "typ": "at+jwt"})),
        Forgery("crit header", signed(claims(), {**header, "crit": ["exp"]}), True),
        Forgery("acr unknown", signed(claims(acr="urn:yrd:loa:godlike")), True),
        Forgery("garbage", "a.b.c", True),
        Forgery("two parts", f"{h64}.{p64}", True),
        Forgery("oversized", f"{h64}.{'A' * 70_000}.{s64}", True),
    ]
    return out


class _Drop:
    pass


_DROP: Any = _Drop()


# --- token-taking RPCs --------------------------------------------------------------------------
Presenter = Callable[[str], tuple[str, Identity, Callable[[grpc.Channel], Any]]]


def presenters(harness: Harness, item_code: str) -> list[Presenter]:
    """(path, identity, call) for each RPC that takes a token, given the token."""
    op = harness.operator()
    window = harness.region(ISSUER)
    other = harness.region(OTHER)

    def verify(token: str) -> tuple[str, Identity, Callable[[grpc.Channel], Any]]:
        req = identity_pb2.VerifyTokenRequest(token=token).SerializeToString()
        return (
            "/yrd.federation.v1.IdentityService/VerifyToken",
            op,
            lambda ch: raw_unary(ch, "/yrd.federation.v1.IdentityService/VerifyToken", req),
        )

    def verify_as_region(token: str) -> tuple[str, Identity, Callable[[grpc.Channel], Any]]:
        req = identity_pb2.VerifyTokenRequest(token=token).SerializeToString()
        return (
            "/yrd.federation.v1.IdentityService/VerifyToken",
            other,
            lambda ch: raw_unary(ch, "/yrd.federation.v1.IdentityService/VerifyToken", req),
        )

    def aggregate(token: str) -> tuple[str, Identity, Callable[[grpc.Channel], Any]]:
        path = "/yrd.federation.v1.LicenceService/ListHolderLicences"
        req = licence_pb2.ListHolderLicencesRequest(token=token).SerializeToString()
        return path, op, lambda ch: raw_unary(ch, path, req)

    def read(token: str) -> tuple[str, Identity, Callable[[grpc.Channel], Any]]:
        path = "/yrd.federation.v1.LicenceService/ReadLicence"
        req = licence_pb2.ReadLicenceRequest(
            identifier="1.2.156.3005.2.11100000000013338W001.11310000MB2C51234X.0001.001.Q",
            service_item=item_code,
            purpose="adversarial",
            consent_token=token,
        ).SerializeToString()
        return path, other, lambda ch: raw_unary(ch, path, req)

    def submit(token: str) -> tuple[str, Identity, Callable[[grpc.Channel], Any]]:
        path = "/yrd.federation.v1.CaseService/SubmitCase"
        req = case_pb2.SubmitCaseRequest(
            request_id=f"forged-{secrets.token_hex(6)}",
            item_code=item_code,
            owner_region=VERIFIER.code,
            window_id="JS-W-ADV",
            applicant_token=token,
        ).SerializeToString()
        return path, window, lambda ch: raw_unary(ch, path, req)

    return [verify, verify_as_region, aggregate, read, submit]


def run_forged_tokens(harness: Harness, item_code: str) -> Tally:
    tally = Tally("forged_tokens")
    victim = register_and_login(harness, ISSUER, VERIFIER)
    other_home = register_and_login(harness, OTHER, VERIFIER)
    # control: a genuine token is accepted, so refusals below are about the forgery
    control = outcome_of(lambda: _verify(harness, issue_token(harness, victim, VERIFIER)))
    tally.notes["control_genuine_token"] = control.code.name
    if control.code is not OK:
        tally.imprecise += 1
        tally.sample(f"control: a genuine token was refused: {control.details}")
    ledger = AuditLedger(harness, [VERIFIER])
    count = 0
    got_through: dict[str, list[str]] = {}
    for present in presenters(harness, item_code):
        # fresh forgeries (fresh jti) per RPC, so no refusal is merely the replay check
        variants = forgeries(harness, victim, other_home)
        count = len(variants)
        for forgery in variants:
            path, who, call = present(forgery.token)
            out = call(harness.channel(VERIFIER, who))
            allowed = REFUSED_OR_MALFORMED if forgery.malformed else REFUSED
            if out.code not in allowed:
                rpc = path.rsplit("/", 1)[1]
                got_through.setdefault(forgery.name, []).append(f"{rpc}:{out.code.name}")
            tally.record(
                f"{forgery.name} via {path.rsplit('/', 1)[1]} as {who.name}",
                out.code,
                out.details,
                out.code in allowed,
                bucket=f"{forgery.name}:{path}",
            )
            ledger.expect(VERIFIER, who, path, out.code)
    _logged_out(harness, tally, ledger, item_code)
    ledger.settle(tally)
    harness.check_nodes(tally, [VERIFIER, ISSUER, OTHER])
    tally.notes["variants"] = count
    tally.notes["not_refused"] = got_through  # variant -> the RPCs that let it through
    return tally


def _logged_out(harness: Harness, tally: Tally, ledger: AuditLedger, item_code: str) -> None:
    """Tokens minted before a logout, presented once the verifier has polled the revocation."""
    from nodes.config import load_config
    from nodes.pb.v1 import identity_pb2_grpc

    subject = register_and_login(harness, ISSUER, VERIFIER)
    chosen = presenters(harness, item_code)
    stale = [issue_token(harness, subject, VERIFIER) for _ in chosen]
    stub = identity_pb2_grpc.IdentityServiceStub(harness.channel(ISSUER, harness.operator()))
    stub.Logout(
        identity_pb2.LogoutRequest(session_id=subject.session_id, session_secret=subject.secret),
        timeout=CALL_TIMEOUT_S,
    )
    poll_s = load_config(harness.layout.config(VERIFIER)).revocation_poll_s
    time.sleep(min(10.0, 3 * poll_s + 0.5))  # bounded: a few polling rounds of the verifier
    for present, token in zip(chosen, stale, strict=True):
        path, who, call = present(token)
        out = call(harness.channel(VERIFIER, who))
        tally.record(
            f"token of a logged-out session via {path.rsplit('/', 1)[1]} as {who.name}",
            out.code,
            out.details,
            out.code in REFUSED,
            bucket=f"logged-out:{path}",
        )
        ledger.expect(VERIFIER, who, path, out.code)


def _verify(harness: Harness, token: str) -> Any:
    from nodes.pb.v1 import identity_pb2_grpc

    stub = identity_pb2_grpc.IdentityServiceStub(harness.channel(VERIFIER, harness.operator()))
    return stub.VerifyToken(identity_pb2.VerifyTokenRequest(token=token), timeout=CALL_TIMEOUT_S)


# --- replay race --------------------------------------------------------------------------------
def _race(
    harness: Harness,
    tally: Tally,
    ledger: AuditLedger,
    label: str,
    path: str,
    payload: bytes,
    threads: int,
) -> int:
    """`threads` callers send one payload at the same instant; returns how many were accepted."""
    op = harness.operator()
    # one channel per thread: the calls really travel in parallel
    channels = [harness.channel(VERIFIER, _clone(op, i)) for i in range(threads)]
    # each connected (TCP and TLS) before the race: the calls race each other, not `threads`
    # handshakes at once, which on a loaded machine could outlast a call's deadline and turn
    # the winner's or a loser's answer into a client-side DEADLINE_EXCEEDED
    # (by a health check that waits for the connection: grpc.channel_ready_future leaves a
    # connectivity-polling thread that raises "Channel closed!" when the channel closes under
    # it, grpc/grpc#18995)
    for channel in channels:
        health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=CONNECT_TIMEOUT_S, wait_for_ready=True
        )
    barrier = threading.Barrier(threads)
    results: list[grpc.StatusCode] = [grpc.StatusCode.UNKNOWN] * threads
    details: list[str] = [""] * threads

    def present(i: int) -> None:
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=CALL_TIMEOUT_S)
        out = raw_unary(channels[i], path, payload)
        results[i], details[i] = out.code, out.details

    workers = [threading.Thread(target=present, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(CALL_TIMEOUT_S * 3)
    accepted = sum(1 for c in results if c is OK)
    first_ok_seen = False
    for i, code in enumerate(results):
        if code is OK and not first_ok_seen:
            first_ok_seen = True
            tally.record(f"{label} thread {i}", code, "", True)
            continue
        tally.record(
            f"{label} thread {i}",
            code,
            details[i] or ("a second acceptance of one credential" if code is OK else ""),
            code is grpc.StatusCode.UNAUTHENTICATED,
            bucket=label,
        )
        ledger.expect(VERIFIER, op, path, code)
    if accepted == 0:
        tally.imprecise += 1
        tally.sample(f"{label}: no thread was accepted: {sorted(set(details))}")
    return accepted


def run_replay_race(harness: Harness, threads: int = 16, rounds: int = 3) -> Tally:
    """`threads` callers present one genuine token (then one presentation nonce) at once:
    exactly one wins, the rest are refused UNAUTHENTICATED."""
    tally = Tally("replay_race")
    subject = register_and_login(harness, ISSUER, VERIFIER)
    wallet = SigningKey.generate()
    card = _holder_bound_card(harness, subject.subject_id, wallet)
    ledger = AuditLedger(harness, [VERIFIER])
    tokens: list[int] = []
    presentations: list[int] = []
    for round_no in range(rounds):
        token = issue_token(harness, subject, VERIFIER)
        tokens.append(
            _race(
                harness,
                tally,
                ledger,
                f"token round {round_no}",
                "/yrd.federation.v1.IdentityService/VerifyToken",
                identity_pb2.VerifyTokenRequest(token=token).SerializeToString(),
                threads,
            )
        )
        shown = create_presentation(card, wallet, ["holder_name"], VERIFIER.entity_id, time.time())
        presentations.append(
            _race(
                harness,
                tally,
                ledger,
                f"presentation round {round_no}",
                "/yrd.federation.v1.LicenceService/VerifyPresentation",
                licence_pb2.VerifyPresentationRequest(presentation=shown).SerializeToString(),
                threads,
            )
        )
    ledger.settle(tally)
    harness.check_nodes(tally, [VERIFIER])
    tally.notes["accepted_per_round"] = tokens
    tally.notes["presentations_accepted_per_round"] = presentations
    return tally


def _holder_bound_card(harness: Harness, holder: str, wallet: SigningKey) -> str:
    from nodes.pb.v1 import licence_pb2_grpc
    from tests.adversarial.cases import ID_CARD_FIELDS

    stub = licence_pb2_grpc.LicenceServiceStub(harness.channel(ISSUER, harness.operator()))
    doc = stub.IssueLicence(
        licence_pb2.IssueLicenceRequest(
            request_id=f"race-{secrets.token_hex(4)}",
            licence_type="resident_identity_card",
            holder_code=holder,
            holder_name="对抗测试",
            valid_until="2040-01-01",
            fields_json=json.dumps(ID_CARD_FIELDS, ensure_ascii=False),
            holder_jwk_json=json.dumps(wallet.jwk.to_dict()),
        ),
        timeout=CALL_TIMEOUT_S,
    )
    return str(doc.sd_jwt)


def _clone(who: Identity, i: int) -> Identity:
    """The same certificate under another name, so the harness opens a separate channel."""
    return Identity(f"{who.name}#{i}", who.entity_id, who.ca, who.cert, who.key)
