"""Tests for federated tokens: minting at the home region, offline verification anywhere."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from federation.audit import AuditDraft
from federation.clock import FixedClock
from federation.crypto.jose import SigningKey, b64url_decode, b64url_encode, sign_compact
from federation.errors import InvalidArgument, PermissionDenied, Unauthenticated
from federation.identity.assurance import Assurance
from federation.identity.homes import HOME_ATTESTATION_TYP, sign_home_attestation
from federation.identity.tokens import (
    DEFAULT_SKEW_S,
    DEFAULT_TTL_S,
    MAX_TTL_S,
    TokenClaims,
    TokenVerifier,
    mint_token,
)
from federation.regions import Region
from federation.storage.base import SubjectHome
from federation.trust.trustlist import Member, TrustList, UnknownKey

NOW = 1_750_000_000
KEYS = {region: SigningKey.generate() for region in Region}
SH, ZJ, HUB = Region.SH.entity_id, Region.ZJ.entity_id, Region.HUB.entity_id
OPERATOR = "yrd:operator:100000"
OPERATOR_KEY = SigningKey.generate()


def _member(region: Region) -> Member:
    return Member(
        entity_id=region.entity_id,
        region_code=region.code,
        name=region.label,
        roles=("hub",) if region is Region.HUB else ("region",),
        endpoint="",
        tls_fingerprints=(),
        signing_keys=(KEYS[region].jwk,),
    )


TRUST = TrustList(
    version=1,
    issued_at=NOW,
    expires_at=NOW + 86400,
    root_ca_fingerprint="ab" * 32,
    members=(
        *(_member(r) for r in Region),
        Member(OPERATOR, "100000", "op", ("operator",), "", (), (OPERATOR_KEY.jwk,)),
    ),
)


class Harness:
    """A verifier at Zhejiang with an in-memory replay cache and revocation set."""

    def __init__(self, trust: TrustList = TRUST, audience: str = ZJ) -> None:
        self.trust = trust
        self.seen: dict[tuple[str, str], float] = {}
        self.revoked: set[tuple[str, str]] = set()
        self.revocation_calls: list[tuple[str, str]] = []
        self.verifier = TokenVerifier(audience, lambda: self.trust, self._replay, self._revoked)

    def _replay(self, audience: str, jti: str, expires_at: float) -> bool:
        if (audience, jti) in self.seen:
            return False
        self.seen[(audience, jti)] = expires_at
        return True

    def _revoked(self, issuer: str, session_id: str) -> bool:
        self.revocation_calls.append((issuer, session_id))
        return (issuer, session_id) in self.revoked

    def verify(
        self, token: str, required: Assurance = Assurance.LOW, now: float = NOW
    ) -> TokenClaims:
        return self.verifier.verify(token, required, now)


SUBJECT = "310101199001011234"


def attest(
    subject: str = SUBJECT,
    home: str = "310000",
    key: SigningKey | None = None,
    kind: str = "natural",
) -> str:
    """The hub's home attestation (signed with the listed hub key by default)."""
    return sign_home_attestation(
        key or KEYS[Region.HUB],
        hub_entity_id=HUB,
        home=SubjectHome(subject, kind, home, NOW - 86400),
        now=NOW - 86400,
    )


HOME_ATT = attest()


def mint(
    key: SigningKey | None = None,
    *,
    issuer: str = SH,
    audience: str = ZJ,
    assurance: Assurance = Assurance.LOW,
    now: float = NOW,
    ttl_s: int = DEFAULT_TTL_S,
    session_id: str = "session-1",
    home_attestation: str = HOME_ATT,
) -> str:
    return mint_token(
        key or KEYS[Region.SH],
        issuer=issuer,
        subject="310101199001011234",
        audience=audience,
        session_id=session_id,
        assurance=assurance,
        home_region="310000",
        subject_kind="natural",
        name="张三",
        amr=("pwd",),
        home_attestation=home_attestation,
        now=now,
        ttl_s=ttl_s,
    )


def claims_of(token: str) -> dict[str, Any]:
    return dict(json.loads(b64url_decode(token.split(".")[1])))


def forge(claims: dict[str, Any], key: SigningKey | None = None, typ: str = "JWT") -> str:
    """A token with arbitrary claims, properly signed by `key` (a listed SH key by default)."""
    return sign_compact(claims, key or KEYS[Region.SH], typ=typ)


def with_claims(token: str, **changes: Any) -> str:
    """The same token with changed claims and the original signature (tampering)."""
    head, _, sig = token.split(".")
    body = b64url_encode(json.dumps({**claims_of(token), **changes}).encode())
    return f"{head}.{body}.{sig}"


# --- minting -----------------------------------------------------------------------------------


def test_minted_claims() -> None:
    claims = claims_of(mint(assurance=Assurance.HIGH, ttl_s=300))
    assert claims["iss"] == SH and claims["aud"] == ZJ
    assert claims["iat"] == NOW and claims["exp"] == NOW + 300
    assert claims["acr"] == "urn:yrd:loa:high"
    assert claims["sid"] == "session-1" and claims["home"] == "310000"
    assert claims["sub_kind"] == "natural" and claims["name"] == "张三"
    assert claims["amr"] == ["pwd"]


def test_each_mint_has_a_fresh_jti() -> None:
    assert len({claims_of(mint())["jti"] for _ in range(20)}) == 20


@pytest.mark.parametrize("ttl", [1, DEFAULT_TTL_S, MAX_TTL_S])
def test_mint_ttl_bounds_accepted(ttl: int) -> None:
    claims = claims_of(mint(ttl_s=ttl))
    assert claims["exp"] - claims["iat"] == ttl


@pytest.mark.parametrize("ttl", [0, -1, MAX_TTL_S + 1, 10**9])
def test_mint_ttl_bounds_refused(ttl: int) -> None:
    with pytest.raises(InvalidArgument, match=f"1..{MAX_TTL_S}"):
        mint(ttl_s=ttl)


def test_mint_truncates_fractional_now() -> None:
    claims = claims_of(mint(now=NOW + 0.99))
    assert claims["iat"] == NOW


# --- accepting ---------------------------------------------------------------------------------


def test_valid_token_is_accepted_once() -> None:
    h = Harness()
    token = mint(assurance=Assurance.SUBSTANTIAL)
    claims = h.verify(token, Assurance.SUBSTANTIAL)
    assert claims.issuer == SH and claims.audience == ZJ
    assert claims.assurance is Assurance.SUBSTANTIAL
    assert claims.to_dict() == claims_of(token)
    assert h.seen == {(ZJ, claims.jti): claims.expires_at + DEFAULT_SKEW_S}
    assert h.revocation_calls == [(SH, "session-1")]
    with pytest.raises(Unauthenticated, match="replay"):
        h.verify(token)


def test_a_different_audience_has_its_own_replay_cache() -> None:
    h_zj, h_js = Harness(), Harness(audience=Region.JS.entity_id)
    h_zj.verify(mint())
    h_js.verify(mint(audience=Region.JS.entity_id))
    assert len(h_zj.seen) == len(h_js.seen) == 1


def test_higher_assurance_satisfies_a_lower_requirement() -> None:
    claims = Harness().verify(mint(assurance=Assurance.HIGH), Assurance.LOW)
    assert claims.assurance is Assurance.HIGH


# --- refusing ----------------------------------------------------------------------------------


def test_wrong_audience_is_permission_denied() -> None:
    with pytest.raises(PermissionDenied, match=f"meant for {Region.JS.entity_id}, not {ZJ}"):
        Harness().verify(mint(audience=Region.JS.entity_id))


def test_expiry_with_skew() -> None:
    token_a, token_b = mint(ttl_s=60), mint(ttl_s=60)
    h = Harness()
    # within the skew after exp: still accepted
    assert h.verify(token_a, now=NOW + 60 + DEFAULT_SKEW_S).jti
    with pytest.raises(Unauthenticated, match="expired"):
        h.verify(token_b, now=NOW + 60 + DEFAULT_SKEW_S + 1)
    assert len(h.seen) == 1  # the refused token did not enter the replay cache


def test_issued_in_the_future() -> None:
    h = Harness()
    assert h.verify(mint(now=NOW + DEFAULT_SKEW_S)).issued_at == NOW + DEFAULT_SKEW_S
    with pytest.raises(Unauthenticated, match="future"):
        h.verify(mint(now=NOW + DEFAULT_SKEW_S + 1))


def test_lifetime_too_long_is_refused_even_when_signed() -> None:
    claims = claims_of(mint())
    ok = forge({**claims, "exp": claims["iat"] + MAX_TTL_S, "jti": "a" * 24})
    assert Harness().verify(ok).expires_at == NOW + MAX_TTL_S
    long = forge({**claims, "exp": claims["iat"] + MAX_TTL_S + 1})
    with pytest.raises(Unauthenticated, match="lifetime"):
        Harness().verify(long)


def test_unknown_issuer() -> None:
    token = forge({**claims_of(mint()), "iss": "yrd:bj:110000"})
    with pytest.raises(Unauthenticated, match="not a member"):
        Harness().verify(token)


def test_key_not_listed_for_the_claimed_issuer() -> None:
    # signed with Shanghai's real key, but claiming to come from Zhejiang
    token = mint(KEYS[Region.SH], issuer=ZJ)
    with pytest.raises(Unauthenticated, match=f"not listed for {ZJ}"):
        Harness().verify(token)


def test_unlisted_key_with_a_listed_kid_is_forged() -> None:
    impostor = SigningKey.generate()
    token = sign_compact(claims_of(mint()), impostor, extra_header={"kid": KEYS[Region.SH].kid})
    with pytest.raises(Unauthenticated, match="forged"):
        Harness().verify(token)


@pytest.mark.parametrize(("issuer", "key"), [(HUB, KEYS[Region.HUB]), (OPERATOR, OPERATOR_KEY)])
def test_issuers_that_are_not_regions_are_refused(issuer: str, key: SigningKey) -> None:
    token = mint(key, issuer=issuer)
    with pytest.raises(Unauthenticated, match="not a region"):
        Harness().verify(token)


def test_key_expired_from_the_trust_list() -> None:
    sh = TRUST.member(SH)
    retired = dataclasses.replace(sh.signing_keys[0], not_after=NOW + 10)
    h = Harness(TRUST.with_member(dataclasses.replace(sh, signing_keys=(retired,))))
    h.verify(mint(), now=NOW + 10)
    with pytest.raises(Unauthenticated, match="expired from the trust list"):
        h.verify(mint(), now=NOW + 11)


@pytest.mark.parametrize(
    ("have", "need"),
    [(Assurance.LOW, Assurance.SUBSTANTIAL), (Assurance.LOW, Assurance.HIGH),
     (Assurance.SUBSTANTIAL, Assurance.HIGH)],
)
def test_insufficient_assurance(have: Assurance, need: Assurance) -> None:
    h = Harness()
    token = mint(assurance=have)
    with pytest.raises(PermissionDenied, match=f"{have.name.lower()} is below the required"):
        h.verify(token, need)
    # the refusal did not burn the token: it still works where its level suffices
    assert h.verify(token, have).assurance is have


def test_revoked_session() -> None:
    h = Harness()
    h.revoked.add((SH, "session-1"))
    with pytest.raises(Unauthenticated, match="logged out"):
        h.verify(mint())
    assert h.verify(mint(session_id="session-2")).session_id == "session-2"


@pytest.mark.parametrize(
    "change",
    [{"aud": ZJ}, {"sub": "other"}, {"exp": NOW + 10**6}, {"acr": "urn:yrd:loa:high"},
     {"iss": ZJ}, {"sid": "other"}, {"name": "李四"}],
)
def test_tampered_claims_are_refused(change: dict[str, Any]) -> None:
    # a token for Jiangsu re-addressed to Zhejiang must fail the signature, not pass
    token = mint(audience=Region.JS.entity_id) if "aud" in change else mint()
    with pytest.raises(Unauthenticated, match=r"forged|not listed"):
        Harness().verify(with_claims(token, **change))


@settings(deadline=None)
@given(
    claim=st.sampled_from(["iss", "sub", "aud", "iat", "exp", "jti", "acr", "sid", "home", "name"]),
    value=st.one_of(st.text(max_size=30), st.integers(NOW - 10**6, NOW + 10**6)),
)
def test_any_tampered_claim_is_refused_without_consuming_anything(
    claim: str, value: object
) -> None:
    token = mint()
    if claims_of(token)[claim] == value:
        return
    h = Harness()
    with pytest.raises((Unauthenticated, PermissionDenied)) as info:
        h.verify(with_claims(token, **{claim: value}))
    if isinstance(info.value, PermissionDenied):
        pytest.fail(f"tampered token reached the audience check: {info.value}")
    assert h.seen == {}


@pytest.mark.parametrize(
    "claims",
    [
        {"iss": SH, "aud": ZJ},
        {**{"iss": SH, "sub": "s", "aud": ZJ, "iat": NOW, "exp": NOW + 60, "sid": "s"},
         "acr": "urn:yrd:loa:low"},
        {"iss": SH, "sub": "s", "aud": ZJ, "iat": "soon", "exp": NOW + 60, "jti": "a" * 24,
         "acr": "urn:yrd:loa:low", "sid": "s"},
        {"iss": SH, "sub": "s", "aud": ZJ, "iat": NOW, "exp": NOW + 60, "jti": "a" * 24,
         "acr": "urn:yrd:loa:medium", "sid": "s"},
        {"iss": SH, "sub": "s", "aud": ZJ, "iat": NOW, "exp": NOW + 60, "jti": "short",
         "acr": "urn:yrd:loa:low", "sid": "s"},
        {"iss": SH, "sub": "s", "aud": ZJ, "iat": NOW, "exp": NOW + 60, "jti": "a b" * 8,
         "acr": "urn:yrd:loa:low", "sid": "s"},
        {"iss": SH, "sub": "s", "aud": ZJ, "iat": [NOW], "exp": NOW + 60, "jti": "a" * 24,
         "acr": "urn:yrd:loa:low", "sid": "s"},
    ],
)
def test_signed_but_malformed_claims_are_unauthenticated(claims: dict[str, Any]) -> None:
    with pytest.raises(Unauthenticated):
        Harness().verify(forge(claims))


def test_non_json_payload_is_unauthenticated() -> None:
    with pytest.raises(Unauthenticated, match="unreadable"):
        Harness().verify(sign_compact(b"not json", KEYS[Region.SH]))


@pytest.mark.parametrize("typ", ["face-assertion+jwt", "trustlist+jwt", "at+jwt"])
def test_other_signed_documents_are_not_tokens(typ: str) -> None:
    with pytest.raises(Unauthenticated, match="not a federated token"):
        Harness().verify(forge(claims_of(mint()), typ=typ))


def test_malformed_token_is_invalid_argument() -> None:
    with pytest.raises(InvalidArgument):
        Harness().verify("not.a.token")


def test_trust_list_is_read_at_verification_time() -> None:
    h = Harness()
    token = mint()
    h.trust = TrustList(2, NOW, NOW + 60, "ab" * 32, (TRUST.member(ZJ),))
    with pytest.raises(Unauthenticated, match="not a member"):
        h.verify(token)


def test_verification_uses_the_injected_clock_value() -> None:
    clock = FixedClock(NOW)
    h = Harness()
    token = mint(ttl_s=60)
    clock.advance(60 + DEFAULT_SKEW_S + 1)
    with pytest.raises(Unauthenticated, match="expired 31 s ago"):
        h.verify(token, now=clock.now())


def test_a_seal_key_cannot_sign_tokens() -> None:
    seal_key = SigningKey.generate()
    sh = TRUST.member(SH)
    trust = TRUST.with_member(dataclasses.replace(sh, seal_keys=(*sh.seal_keys, seal_key.jwk)))
    with pytest.raises(Unauthenticated, match="listed for 'seal', not 'sig'"):
        Harness(trust).verify(mint(seal_key))


class Refreshing(Harness):
    """A verifier whose trust list can be refreshed on an unknown key id."""

    def __init__(self, stale: TrustList, fresh: TrustList) -> None:
        super().__init__(stale)
        self.fresh = fresh
        self.refreshes = 0
        self.verifier = TokenVerifier(
            ZJ, lambda: self.trust, self._replay, self._revoked, refresh_trust=self._refresh
        )

    def _refresh(self) -> None:
        self.refreshes += 1
        self.trust = self.fresh


def test_unknown_kid_refreshes_the_trust_list_once() -> None:
    new_key = SigningKey.generate()
    sh = TRUST.member(SH)
    rotated = dataclasses.replace(sh, signing_keys=(new_key.jwk, *sh.signing_keys))
    fresh = dataclasses.replace(TRUST.with_member(rotated), version=2)
    h = Refreshing(TRUST, fresh)
    assert h.verify(mint()).issuer == SH
    assert h.refreshes == 0  # a known key needs no refresh
    assert h.verify(mint(new_key)).issuer == SH
    assert h.refreshes == 1 and h.trust.version == 2
    with pytest.raises(UnknownKey):
        h.verify(mint(SigningKey.generate()))
    assert h.refreshes == 2  # one look per token, then refused


def test_check_touches_no_store_and_accept_records_the_jti() -> None:
    """VerifyToken runs `check` on the event loop and `accept` on a store thread."""
    h = Harness()
    token = mint()
    claims = h.verifier.check(token, Assurance.LOW, NOW)
    assert h.seen == {} and h.revocation_calls == []  # no store read or write yet
    assert h.verifier.accept(claims) == claims
    assert (ZJ, claims.jti) in h.seen and h.revocation_calls == [(SH, claims.session_id)]
    with pytest.raises(Unauthenticated, match="replay"):
        h.verifier.accept(h.verifier.check(token, Assurance.LOW, NOW))


def test_check_without_refresh_raises_unknown_key_and_does_not_refresh() -> None:
    new_key = SigningKey.generate()
    sh = TRUST.member(SH)
    rotated = dataclasses.replace(sh, signing_keys=(new_key.jwk, *sh.signing_keys))
    h = Refreshing(TRUST, dataclasses.replace(TRUST.with_member(rotated), version=2))
    token = mint(new_key)
    with pytest.raises(UnknownKey):
        h.verifier.check(token, Assurance.LOW, NOW, refresh=False)
    assert h.refreshes == 0  # the loop never waits on the hub; the caller retries off it
    assert h.verifier.check(token, Assurance.LOW, NOW).issuer == SH
    assert h.refreshes == 1


def test_expired_or_wrong_issuer_key_does_not_refresh() -> None:
    sh = TRUST.member(SH)
    retired = dataclasses.replace(sh.signing_keys[0], not_after=NOW - 1)
    stale = TRUST.with_member(dataclasses.replace(sh, signing_keys=(retired,)))
    h = Refreshing(stale, TRUST)
    with pytest.raises(Unauthenticated, match="expired from the trust list"):
        h.verify(mint())
    with pytest.raises(Unauthenticated, match="not a region"):
        h.verify(mint(KEYS[Region.HUB], issuer=HUB))
    assert h.refreshes == 0


def test_without_a_refresher_an_unknown_kid_is_refused() -> None:
    with pytest.raises(UnknownKey, match="not listed"):
        Harness().verify(mint(SigningKey.generate()))


@pytest.mark.parametrize("lifetime", [-10, 0])
def test_a_token_that_expires_before_it_is_issued_is_refused(lifetime: int) -> None:
    claims = claims_of(mint())
    with pytest.raises(Unauthenticated, match="lifetime"):
        Harness().verify(forge({**claims, "exp": claims["iat"] + lifetime}))


# --- strict claims (fail closed on anything another parser might read differently) ---------------


def signed_raw(payload: bytes, header: bytes | None = None, key: SigningKey | None = None) -> str:
    """A token over exactly these JSON bytes, properly signed (by a listed SH key by default)."""
    key = key or KEYS[Region.SH]
    head = header or json.dumps({"alg": "EdDSA", "kid": key.kid, "typ": "JWT"}).encode()
    signing_input = f"{b64url_encode(head)}.{b64url_encode(payload)}"
    signature = key.private.sign(signing_input.encode("ascii"))
    return f"{signing_input}.{b64url_encode(signature)}"


NOT_AN_INTEGER = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),  # 1.0 too: a float is not a NumericDate
    st.text(max_size=12),
    st.booleans(),
    st.lists(st.integers(), max_size=2),
)


@settings(deadline=None)
@given(claim=st.sampled_from(["iat", "exp", "nbf"]), value=NOT_AN_INTEGER)
def test_times_must_be_integers(claim: str, value: object) -> None:
    h = Harness()
    with pytest.raises(Unauthenticated, match=f"'{claim}' must be an integer"):
        h.verify(forge({**claims_of(mint()), claim: value}))
    assert h.seen == {}


@settings(deadline=None)
@given(ahead=st.integers(DEFAULT_SKEW_S + 1, 10**9))
def test_a_future_nbf_is_refused(ahead: int) -> None:
    with pytest.raises(Unauthenticated, match="not valid yet"):
        Harness().verify(forge({**claims_of(mint()), "nbf": NOW + ahead}))


@settings(deadline=None)
@given(behind=st.integers(-DEFAULT_SKEW_S, 10**6))
def test_a_past_or_present_nbf_is_accepted(behind: int) -> None:
    assert Harness().verify(forge({**claims_of(mint()), "nbf": NOW - behind})).not_before == (
        NOW - behind
    )


@settings(deadline=None)
@given(
    claim=st.sampled_from(["iss", "sub", "aud", "iat", "exp", "jti", "acr", "sid", "home_att"]),
    value=st.one_of(st.text(max_size=20), st.integers(), st.booleans()),
    first=st.booleans(),
)
def test_duplicate_payload_members_are_refused(claim: str, value: object, first: bool) -> None:
    claims = claims_of(mint())
    body = json.dumps(claims, ensure_ascii=False)[:-1]
    extra = f"{json.dumps(claim)}:{json.dumps(value)}"
    raw = "{" + extra + "," + body[1:] + "}" if first else body + "," + extra + "}"
    h = Harness()
    with pytest.raises(Unauthenticated, match="duplicate JSON member"):
        h.verify(signed_raw(raw.encode()))
    assert h.seen == {}


@pytest.mark.parametrize("name", ["alg", "kid", "typ"])
def test_duplicate_header_members_are_refused(name: str) -> None:
    key = KEYS[Region.SH]
    header = f'{{"alg":"EdDSA","kid":"{key.kid}","typ":"JWT","{name}":"x"}}'.encode()
    with pytest.raises(InvalidArgument, match=f"duplicate JSON member '{name}'"):
        Harness().verify(signed_raw(json.dumps(claims_of(mint())).encode(), header))


@pytest.mark.parametrize("sub", ["", " ", "\t"])
def test_an_empty_subject_is_refused(sub: str) -> None:
    with pytest.raises(Unauthenticated, match="'sub' is empty"):
        Harness().verify(forge({**claims_of(mint()), "sub": sub}))


@pytest.mark.parametrize(
    ("claim", "value"),
    [
        ("sub", 310101199001011234),
        ("iss", None),
        ("aud", [ZJ]),
        ("jti", 7),
        ("sid", True),
        ("acr", 1),
        ("amr", "pwd"),
        ("amr", [1]),
        ("home_att", 5),
    ],
)
def test_string_claims_must_be_strings(claim: str, value: object) -> None:
    with pytest.raises(Unauthenticated, match=f"'{claim}'|{claim}"):
        Harness().verify(forge({**claims_of(mint()), claim: value}))


def test_nan_and_infinity_are_not_json() -> None:
    raw = json.dumps(claims_of(mint()))[:-1] + ', "x": NaN}'
    with pytest.raises(Unauthenticated, match="NaN is not allowed"):
        Harness().verify(signed_raw(raw.encode()))


# --- home attestation: one person, one home ------------------------------------------------------


def test_a_token_carries_and_passes_its_home_attestation() -> None:
    claims = Harness().verify(mint())
    assert claims.home_attestation == HOME_ATT and claims.home_region == "310000"


def test_a_token_without_home_attestation_is_refused() -> None:
    h = Harness()
    with pytest.raises(Unauthenticated, match="no home attestation"):
        h.verify(mint(home_attestation=""))
    assert h.seen == {}


def test_a_region_that_is_not_the_home_cannot_issue_for_the_subject() -> None:
    """Zhejiang registered the citizen a second time: the hub attests Shanghai as home."""
    token = mint_token(
        KEYS[Region.ZJ],
        issuer=ZJ,
        subject=SUBJECT,
        audience=SH,
        session_id="s" * 20,
        assurance=Assurance.LOW,
        home_region="330000",
        subject_kind="natural",
        name="冒名",
        amr=("pwd",),
        home_attestation=HOME_ATT,  # the victim's, copied from any of her tokens
        now=NOW,
    )
    with pytest.raises(PermissionDenied, match="home region is 310000; region 330000 may not"):
        Harness(audience=SH).verify(token)


@pytest.mark.parametrize(
    ("attestation", "message"),
    [
        (attest(subject="330106198805172315"), "about another subject"),
        (attest(home="330000"), "home region is 330000; region 310000 may not"),
        (attest(key=KEYS[Region.SH]), "not listed for yrd:hub"),  # a region cannot attest
        (attest(key=SigningKey.generate()), "not listed for yrd:hub"),
        (attest(kind="legal"), "'sub_kind' contradicts"),
        (attest(home="100000"), "names no province as home"),
        (
            sign_compact(
                {"iss": HUB, "sub": SUBJECT, "home": "310000", "sub_kind": "natural", "iat": NOW},
                KEYS[Region.HUB],
                typ="face-assertion+jwt",
            ),
            "not a home attestation",
        ),
        (
            sign_compact(
                {
                    "iss": HUB,
                    "sub": SUBJECT,
                    "home": "310000",
                    "sub_kind": "natural",
                    "iat": float(NOW),
                },
                KEYS[Region.HUB],
                typ=HOME_ATTESTATION_TYP,
            ),
            "'iat' must be an integer",
        ),
        (
            sign_compact(
                {"iss": SH, "sub": SUBJECT, "home": "310000", "sub_kind": "natural", "iat": NOW},
                KEYS[Region.HUB],
                typ=HOME_ATTESTATION_TYP,
            ),
            "issuer must be the hub",
        ),
        ("not-an-attestation", "unreadable"),
    ],
)
def test_forged_or_foreign_home_attestations_are_refused(attestation: str, message: str) -> None:
    h = Harness()
    with pytest.raises((Unauthenticated, PermissionDenied), match=message):
        h.verify(mint(home_attestation=attestation))
    assert h.seen == {}


def test_a_tampered_home_attestation_is_forged() -> None:
    head, body, sig = HOME_ATT.split(".")
    claims = json.loads(b64url_decode(body))
    altered = b64url_encode(json.dumps({**claims, "home": "330000"}).encode())
    with pytest.raises(Unauthenticated, match="forged"):
        Harness().verify(mint(home_attestation=f"{head}.{altered}.{sig}"))


def test_the_home_claim_must_match_the_attestation() -> None:
    forged_home = forge({**claims_of(mint()), "home": "330000"})
    with pytest.raises(Unauthenticated, match="'home' claim contradicts"):
        Harness().verify(forged_home)


# --- a token forwarded by the region it was meant for -------------------------------------------


def test_a_forwarded_token_is_checked_for_the_calling_region() -> None:
    at_js = Harness(audience=Region.JS.entity_id)  # ZJ forwards the holder's token to JS
    token = mint(audience=ZJ)
    with pytest.raises(PermissionDenied, match="meant for yrd:zj:330000, not yrd:sh:310000"):
        at_js.verifier.verify(token, Assurance.LOW, NOW, audience=SH)
    assert at_js.verifier.verify(token, Assurance.LOW, NOW, audience=ZJ).subject == SUBJECT
    assert (ZJ, claims_of(token)["jti"]) in at_js.seen  # replay is per (caller, jti)
    with pytest.raises(Unauthenticated, match="replay"):
        at_js.verifier.verify(token, Assurance.LOW, NOW, audience=ZJ)


class NowChecks:
    """Replay and revocation checks that never wait, each answering a scripted value."""

    def __init__(self, revoked: bool | None = False, first: bool | None = True) -> None:
        self.revoked_answer = revoked
        self.first_answer = first
        self.replays: list[tuple[str, str, float, AuditDraft | None]] = []

    def revoked(self, issuer: str, session_id: str) -> bool | None:
        return self.revoked_answer

    def replay(
        self, audience: str, jti: str, expires_at: float, audit: AuditDraft | None = None
    ) -> bool | None:
        self.replays.append((audience, jti, expires_at, audit))
        return self.first_answer


def _now_verifier(checks: NowChecks) -> TokenVerifier:
    return TokenVerifier(
        ZJ, lambda: TRUST, checks.replay, checks.revoked,
        replay_now=checks.replay, revoked_now=checks.revoked,
    )


def _draft(claims: TokenClaims) -> AuditDraft:
    return AuditDraft(NOW, "op", "identity.verify_token", "granted", claims.subject)


def test_accept_now_without_non_waiting_checks_answers_none() -> None:
    harness = Harness()
    claims = harness.verifier.check(mint(), Assurance.LOW, NOW)
    assert harness.verifier.accept_now(claims) is None
    assert harness.seen == {}  # nothing recorded: the caller accepts off the loop instead


@pytest.mark.parametrize(("revoked", "first"), [(None, True), (False, None)])
def test_accept_now_that_would_wait_answers_none(revoked: bool | None, first: bool | None) -> None:
    checks = NowChecks(revoked, first)
    verifier = _now_verifier(checks)
    claims = verifier.check(mint(), Assurance.LOW, NOW)
    assert verifier.accept_now(claims, _draft) is None
    assert len(checks.replays) == (0 if revoked is None else 1)


def test_accept_now_records_the_jti_with_its_audit_entry() -> None:
    checks = NowChecks()
    verifier = _now_verifier(checks)
    claims = verifier.check(mint(), Assurance.LOW, NOW)
    assert verifier.accept_now(claims, _draft) == claims
    [(audience, jti, keep_until, audit)] = checks.replays
    assert (audience, jti, keep_until) == (ZJ, claims.jti, claims.expires_at + DEFAULT_SKEW_S)
    assert audit == _draft(claims)


@pytest.mark.parametrize("now", [True, False])
@pytest.mark.parametrize(
    ("revoked", "first", "refusal"),
    [(True, True, "logged out"), (False, False, "already used here")],
)
def test_accept_and_accept_now_refuse_alike(
    now: bool, revoked: bool, first: bool, refusal: str
) -> None:
    checks = NowChecks(revoked, first)
    verifier = _now_verifier(checks)
    claims = verifier.check(mint(), Assurance.LOW, NOW)
    accept = verifier.accept_now if now else verifier.accept
    with pytest.raises(Unauthenticated, match=refusal):
        accept(claims, _draft)
    assert len(checks.replays) == (0 if revoked else 1)  # a revoked session records nothing


def test_a_blocking_replay_check_answering_none_refuses() -> None:
    """Only the non-waiting checks may answer None ('would wait'); from a blocking one it is
    no first sighting, so the token is refused (fail closed), never accepted unrecorded."""
    checks = NowChecks(False, None)
    verifier = _now_verifier(checks)
    claims = verifier.check(mint(), Assurance.LOW, NOW)
    with pytest.raises(Unauthenticated, match="already used here"):
        verifier.accept(claims, _draft)
