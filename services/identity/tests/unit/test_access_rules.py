"""The object-level access rules, one table per rule: who (the caller's role, program and
scopes) may do what to whom (self or another; the same program or another; supervised
or not). HIDDEN answers NOT_FOUND (the caller may not know the target exists), DENIED
answers PERMISSION_DENIED (the caller may see the target, not act on it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest

from peerbridge_identity.domain import access_rules as rules
from peerbridge_identity.domain.access_rules import PersonFacts, Verdict
from peerbridge_identity.domain.values import Role
from peerbridge_identity.service_layer.access import Denied, enforce
from peerbridge_platform.audit.model import PurposeOfUse
from peerbridge_platform.auth import Principal
from peerbridge_platform.auth import Role as CallerRole
from peerbridge_platform.auth import scopes as sc
from peerbridge_platform.auth.scopes import ALL_SCOPES, ROLE_SCOPES
from peerbridge_platform.errors import NotFound, PermissionDenied

ALLOWED, DENIED, HIDDEN = Verdict.ALLOWED, Verdict.DENIED, Verdict.HIDDEN

PROGRAM, OTHER_PROGRAM = uuid4(), uuid4()
CLINIC, OTHER_CLINIC = uuid4(), uuid4()
SUPERVISOR_ID, OTHER_SUPERVISOR_ID = uuid4(), uuid4()
CLIENT_ID = uuid4()


def caller(
    role: CallerRole,
    organization_id: UUID | None = None,
    *,
    scopes: frozenset[str] | None = None,
    subject: UUID | None = None,
) -> Principal:
    """A person's verified token: by default every scope the role allows (as sign-in grants)."""
    return Principal(
        subject=str(subject or uuid4()),
        roles=frozenset({role}),
        scopes=ROLE_SCOPES[role] if scopes is None else scopes,
        organization_id=str(organization_id) if organization_id else None,
        client_id=None,
        token_id=str(uuid4()),
        expires_at=datetime(2099, 1, 1, tzinfo=UTC),
    )


def partner(organization_id: UUID = PROGRAM, *, scopes: frozenset[str] = ALL_SCOPES) -> Principal:
    """A partner client of `organization_id`; every scope by default: scopes alone open nothing."""
    return Principal(
        subject=str(CLIENT_ID),
        roles=frozenset({CallerRole.PARTNER_CLIENT}),
        scopes=scopes,
        organization_id=str(organization_id),
        client_id=str(CLIENT_ID),
        token_id=str(uuid4()),
        expires_at=datetime(2099, 1, 1, tzinfo=UTC),
    )


def without(role: CallerRole, scope: str) -> frozenset[str]:
    return ROLE_SCOPES[role] - {scope}


def plus(role: CallerRole, scope: str) -> frozenset[str]:
    return ROLE_SCOPES[role] | {scope}


CALLERS: dict[str, Principal] = {
    "member": caller(CallerRole.MEMBER, PROGRAM),
    "unaffiliated member": caller(CallerRole.MEMBER),
    "supporter": caller(CallerRole.PEER_SUPPORTER, PROGRAM),
    "supporter without qualifications.write": caller(
        CallerRole.PEER_SUPPORTER,
        PROGRAM,
        scopes=without(CallerRole.PEER_SUPPORTER, sc.QUALIFICATIONS_WRITE),
    ),
    "supporter with no scope": caller(CallerRole.PEER_SUPPORTER, PROGRAM, scopes=frozenset()),
    "clinician": caller(CallerRole.CLINICIAN, CLINIC),
    "clinician with people.write": caller(
        CallerRole.CLINICIAN, CLINIC, scopes=plus(CallerRole.CLINICIAN, sc.PEOPLE_WRITE)
    ),
    "clinician with qualifications.read": caller(
        CallerRole.CLINICIAN, CLINIC, scopes=plus(CallerRole.CLINICIAN, sc.QUALIFICATIONS_READ)
    ),
    "coordinator": caller(CallerRole.COORDINATOR, PROGRAM),
    "coordinator without people.write": caller(
        CallerRole.COORDINATOR,
        PROGRAM,
        scopes=without(CallerRole.COORDINATOR, sc.PEOPLE_WRITE),
    ),
    "coordinator of no program": caller(CallerRole.COORDINATOR),
    "supervisor": caller(CallerRole.SUPERVISOR, PROGRAM, subject=SUPERVISOR_ID),
    "supervisor with people.write": caller(
        CallerRole.SUPERVISOR,
        PROGRAM,
        subject=SUPERVISOR_ID,
        scopes=plus(CallerRole.SUPERVISOR, sc.PEOPLE_WRITE),
    ),
    "supervisor of another program": caller(
        CallerRole.SUPERVISOR, OTHER_PROGRAM, subject=OTHER_SUPERVISOR_ID
    ),
    "admin": caller(CallerRole.ADMIN),
    "admin with every scope": caller(CallerRole.ADMIN, scopes=ALL_SCOPES),
    "admin without admin": caller(CallerRole.ADMIN, scopes=without(CallerRole.ADMIN, sc.ADMIN)),
    "admin without people.write": caller(
        CallerRole.ADMIN, scopes=without(CallerRole.ADMIN, sc.PEOPLE_WRITE)
    ),
    "admin without people.read": caller(
        CallerRole.ADMIN, scopes=without(CallerRole.ADMIN, sc.PEOPLE_READ)
    ),
    "admin without qualifications.write": caller(
        CallerRole.ADMIN, scopes=without(CallerRole.ADMIN, sc.QUALIFICATIONS_WRITE)
    ),
    "admin without qualifications.read": caller(
        CallerRole.ADMIN, scopes=without(CallerRole.ADMIN, sc.QUALIFICATIONS_READ)
    ),
    "partner": partner(),
    "partner of another program": partner(OTHER_PROGRAM),
    "partner without qualifications.read": partner(scopes=ALL_SCOPES - {sc.QUALIFICATIONS_READ}),
}


def person(
    role: Role, organization_id: UUID | None, supervisor_id: UUID | None = None
) -> PersonFacts:
    return PersonFacts(uuid4(), frozenset({role}), organization_id, supervisor_id)


TARGETS: dict[str, PersonFacts] = {
    "member here": person(Role.MEMBER, PROGRAM),
    "member elsewhere": person(Role.MEMBER, OTHER_PROGRAM),
    "unaffiliated member": person(Role.MEMBER, None),
    "supervised supporter": person(Role.PEER_SUPPORTER, PROGRAM, SUPERVISOR_ID),
    "unsupervised supporter": person(Role.PEER_SUPPORTER, PROGRAM),
    "supporter elsewhere": person(Role.PEER_SUPPORTER, OTHER_PROGRAM, OTHER_SUPERVISOR_ID),
    "coordinator here": person(Role.COORDINATOR, PROGRAM),
    "clinic colleague": person(Role.CLINICIAN, CLINIC),
    "clinician elsewhere": person(Role.CLINICIAN, OTHER_CLINIC),
    "admin": person(Role.ADMIN, None),
}


def target(caller_name: str, target_name: str) -> PersonFacts:
    """`self` is the caller's own record (their roles and program); else a named target."""
    if target_name != "self":
        return TARGETS[target_name]
    principal = CALLERS[caller_name]
    roles = frozenset(Role(r.value) for r in principal.roles if r is not CallerRole.PARTNER_CLIENT)
    organization = UUID(principal.organization_id) if principal.organization_id else None
    return PersonFacts(UUID(principal.subject), roles, organization)


def cases(*rows: tuple[str, str, Verdict]) -> list[object]:
    return [pytest.param(c, t, v, id=f"{c} on {t}: {v}") for c, t, v in rows]


def verdict(rule: Callable[[Principal, PersonFacts], rules.Decision], c: str, t: str) -> Verdict:
    return rule(CALLERS[c], target(c, t)).verdict


# -- GetPerson ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "whom", "expected"),
    cases(
        ("member", "self", ALLOWED),
        ("member", "member here", HIDDEN),
        ("member", "member elsewhere", HIDDEN),
        ("member", "supervised supporter", HIDDEN),
        ("member", "coordinator here", HIDDEN),
        ("supporter", "self", ALLOWED),
        ("supporter", "member here", HIDDEN),
        ("supporter", "unsupervised supporter", HIDDEN),
        ("clinician", "self", ALLOWED),
        ("clinician", "clinic colleague", ALLOWED),
        ("clinician", "clinician elsewhere", HIDDEN),
        ("clinician", "member here", HIDDEN),
        ("clinician", "supervised supporter", HIDDEN),
        ("coordinator", "self", ALLOWED),
        ("coordinator", "member here", ALLOWED),
        ("coordinator", "supervised supporter", ALLOWED),
        ("coordinator", "member elsewhere", HIDDEN),
        ("coordinator", "supporter elsewhere", HIDDEN),
        ("coordinator", "unaffiliated member", HIDDEN),
        ("coordinator", "clinic colleague", HIDDEN),
        ("coordinator of no program", "unaffiliated member", HIDDEN),
        ("supervisor", "self", ALLOWED),
        ("supervisor", "supervised supporter", ALLOWED),
        ("supervisor", "unsupervised supporter", HIDDEN),
        ("supervisor", "member here", HIDDEN),
        ("supervisor", "supporter elsewhere", HIDDEN),
        ("supervisor of another program", "supervised supporter", HIDDEN),
        ("admin", "self", ALLOWED),
        ("admin", "member elsewhere", ALLOWED),
        ("admin", "clinician elsewhere", ALLOWED),
        ("admin", "unaffiliated member", ALLOWED),
        ("admin without people.read", "self", DENIED),
        ("admin without people.read", "member here", DENIED),
        ("partner", "member here", HIDDEN),
        ("partner", "supervised supporter", HIDDEN),
    ),
)
def test_read_person(who: str, whom: str, expected: Verdict) -> None:
    assert verdict(rules.read_person, who, whom) is expected


# -- UpdateProfile ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "whom", "expected"),
    cases(
        ("member", "self", ALLOWED),
        ("member", "member here", HIDDEN),
        # Least privilege: supporters, clinicians and supervisors hold no people.write.
        ("supporter", "self", DENIED),
        ("clinician", "self", DENIED),
        ("supervisor", "self", DENIED),
        ("coordinator", "self", ALLOWED),
        ("coordinator", "member here", ALLOWED),
        ("coordinator", "supervised supporter", ALLOWED),
        ("coordinator", "member elsewhere", HIDDEN),
        ("coordinator", "clinic colleague", HIDDEN),
        ("coordinator without people.write", "member here", DENIED),
        # Seen but not theirs to change: refused openly.
        ("clinician with people.write", "clinic colleague", DENIED),
        ("clinician with people.write", "clinician elsewhere", HIDDEN),
        ("supervisor with people.write", "supervised supporter", DENIED),
        ("supervisor with people.write", "unsupervised supporter", HIDDEN),
        ("admin", "member elsewhere", ALLOWED),
        ("admin", "clinic colleague", ALLOWED),
        ("admin without people.write", "member here", DENIED),
        ("partner", "member here", HIDDEN),
    ),
)
def test_update_profile(who: str, whom: str, expected: Verdict) -> None:
    assert verdict(rules.update_profile, who, whom) is expected


# -- SetPassword --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "whom", "expected"),
    cases(
        ("member", "self", ALLOWED),
        ("supporter", "self", ALLOWED),
        # One's own password needs no scope: the current password proves it is them.
        ("supporter with no scope", "self", ALLOWED),
        ("clinician", "self", ALLOWED),
        ("member", "member here", HIDDEN),
        ("coordinator", "member here", DENIED),
        ("coordinator", "member elsewhere", HIDDEN),
        ("supervisor", "supervised supporter", DENIED),
        ("supervisor", "unsupervised supporter", HIDDEN),
        ("clinician", "clinic colleague", DENIED),
        ("clinician", "clinician elsewhere", HIDDEN),
        ("admin", "member elsewhere", ALLOWED),
        ("admin", "coordinator here", ALLOWED),
        ("admin without people.write", "member here", DENIED),
        ("partner", "member here", HIDDEN),
    ),
)
def test_set_password(who: str, whom: str, expected: Verdict) -> None:
    assert verdict(rules.set_password, who, whom) is expected


# -- RegisterPerson ------------------------------------------------------------------------

ORGANIZATIONS = {"own program": PROGRAM, "another program": OTHER_PROGRAM, "no program": None}


@pytest.mark.parametrize(
    ("who", "roles", "where", "expected"),
    [
        pytest.param(c, roles, where, v, id=f"{c} registers {'+'.join(roles)} into {where}: {v}")
        for c, roles, where, v in [
            ("coordinator", ("member",), "own program", ALLOWED),
            ("coordinator", ("peer_supporter",), "own program", ALLOWED),
            ("coordinator", ("member", "peer_supporter"), "own program", ALLOWED),
            ("coordinator", ("member",), "another program", DENIED),
            ("coordinator", ("peer_supporter",), "another program", DENIED),
            ("coordinator", ("member",), "no program", DENIED),
            ("coordinator", ("admin",), "own program", DENIED),
            ("coordinator", ("coordinator",), "own program", DENIED),
            ("coordinator", ("supervisor",), "own program", DENIED),
            ("coordinator", ("clinician",), "own program", DENIED),
            ("coordinator", ("member", "admin"), "own program", DENIED),
            ("coordinator without people.write", ("member",), "own program", DENIED),
            ("coordinator of no program", ("member",), "no program", DENIED),
            ("admin", ("admin",), "no program", ALLOWED),
            ("admin", ("coordinator",), "another program", ALLOWED),
            ("admin without people.write", ("member",), "no program", DENIED),
            ("member", ("member",), "no program", DENIED),
            ("supporter", ("member",), "own program", DENIED),
            ("supervisor", ("peer_supporter",), "own program", DENIED),
            ("clinician", ("clinician",), "no program", DENIED),
            ("partner", ("member",), "own program", DENIED),
        ]
    ],
)
def test_register_person(who: str, roles: tuple[str, ...], where: str, expected: Verdict) -> None:
    decision = rules.register_person(
        CALLERS[who], frozenset(map(Role, roles)), ORGANIZATIONS[where]
    )

    assert decision.verdict is expected


# -- GrantRole, RevokeRole and the administrators' RPCs ------------------------------------


@pytest.mark.parametrize(
    ("who", "whom", "expected"),
    cases(
        ("admin", "member here", ALLOWED),
        ("admin", "admin", ALLOWED),
        ("admin", "self", DENIED),
        ("admin with every scope", "self", DENIED),
        ("admin without admin", "member here", DENIED),
        ("member", "self", DENIED),
        ("member", "member here", DENIED),
        ("coordinator", "member here", DENIED),
        ("coordinator", "self", DENIED),
        ("partner", "member here", DENIED),
    ),
)
def test_change_roles(who: str, whom: str, expected: Verdict) -> None:
    assert rules.change_roles(CALLERS[who], target(who, whom).person_id).verdict is expected


@pytest.mark.parametrize("who", ["admin", "admin with every scope", "member"])
def test_nobody_changes_their_own_roles_whatever_the_token_says(who: str) -> None:
    decision = rules.change_roles(CALLERS[who], target(who, "self").person_id)

    # Checked before the scope: the reason is about the self, not the token.
    assert decision == rules.deny("may not change their own roles")


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        pytest.param(c, v, id=f"{c}: {v}")
        for c, v in [
            ("admin", ALLOWED),
            ("admin without admin", DENIED),
            ("coordinator", DENIED),
            ("member", DENIED),
            ("partner", DENIED),
        ]
    ],
)
def test_administer(who: str, expected: Verdict) -> None:
    assert rules.administer(CALLERS[who]).verdict is expected


def test_a_missing_scope_denies_even_an_administrator() -> None:
    admin = CALLERS["admin without admin"]

    assert rules.administer(admin) == rules.deny("token lacks scope admin")
    assert rules.read_person(CALLERS["admin without people.read"], TARGETS["member here"]) == (
        rules.deny("token lacks scope people.read")
    )


# -- RecordTraining, AssignSupervisor, RecordCertification ----------------------------------


@pytest.mark.parametrize(
    ("who", "whom", "expected"),
    cases(
        ("admin", "supporter elsewhere", ALLOWED),
        ("admin without qualifications.write", "supervised supporter", DENIED),
        ("coordinator", "supervised supporter", ALLOWED),
        ("coordinator", "unsupervised supporter", ALLOWED),
        ("coordinator", "supporter elsewhere", HIDDEN),
        ("supervisor", "supervised supporter", DENIED),
        ("supervisor", "unsupervised supporter", HIDDEN),
        ("supervisor of another program", "supervised supporter", HIDDEN),
        # A supporter records no training of their own, nor anyone's.
        ("supporter", "self", DENIED),
        ("supporter", "unsupervised supporter", HIDDEN),
        ("member", "supervised supporter", DENIED),
        ("clinician", "supervised supporter", DENIED),
        ("partner", "supervised supporter", HIDDEN),
    ),
)
def test_manage_qualifications(who: str, whom: str, expected: Verdict) -> None:
    assert verdict(rules.manage_qualifications, who, whom) is expected


@pytest.mark.parametrize(
    ("who", "whom", "expected"),
    cases(
        ("supporter", "self", ALLOWED),
        ("supporter without qualifications.write", "self", DENIED),
        ("supporter", "unsupervised supporter", HIDDEN),
        ("coordinator", "supervised supporter", ALLOWED),
        ("coordinator", "supporter elsewhere", HIDDEN),
        ("supervisor", "supervised supporter", DENIED),
        ("admin", "supporter elsewhere", ALLOWED),
        ("member", "supervised supporter", DENIED),
        ("partner", "supervised supporter", HIDDEN),
    ),
)
def test_record_certification(who: str, whom: str, expected: Verdict) -> None:
    assert verdict(rules.record_certification, who, whom) is expected


# -- VerifyCertification ---------------------------------------------------------------------

VERIFIERS = {"in their own name": None, "in someone else's name": uuid4()}


@pytest.mark.parametrize(
    ("who", "whom", "name", "expected"),
    [
        pytest.param(c, t, n, v, id=f"{c} on {t} {n}: {v}")
        for c, t, n, v in [
            ("supporter", "self", "in their own name", DENIED),
            ("supporter", "unsupervised supporter", "in their own name", HIDDEN),
            ("supervisor", "supervised supporter", "in their own name", ALLOWED),
            # Any supervisor of the program verifies, not only the supporter's own.
            ("supervisor", "unsupervised supporter", "in their own name", ALLOWED),
            ("supervisor", "supervised supporter", "in someone else's name", DENIED),
            ("supervisor", "supporter elsewhere", "in their own name", HIDDEN),
            ("coordinator", "unsupervised supporter", "in their own name", ALLOWED),
            ("coordinator", "unsupervised supporter", "in someone else's name", DENIED),
            ("coordinator", "supporter elsewhere", "in their own name", HIDDEN),
            ("admin", "supporter elsewhere", "in someone else's name", ALLOWED),
            ("admin", "self", "in someone else's name", DENIED),
            (
                "admin without qualifications.write",
                "supervised supporter",
                "in their own name",
                DENIED,
            ),
            ("member", "supervised supporter", "in their own name", DENIED),
            ("clinician", "supervised supporter", "in their own name", DENIED),
            ("partner", "supervised supporter", "in their own name", HIDDEN),
        ]
    ],
)
def test_verify_certification(who: str, whom: str, name: str, expected: Verdict) -> None:
    principal = CALLERS[who]
    verified_by = VERIFIERS[name] or UUID(principal.subject)

    assert rules.verify_certification(principal, target(who, whom), verified_by).verdict is expected


def test_a_supporter_records_their_certification_but_never_verifies_it() -> None:
    supporter = CALLERS["supporter"]
    own = target("supporter", "self")

    assert rules.record_certification(supporter, own).allowed
    assert rules.verify_certification(supporter, own, own.person_id) == rules.deny(
        "may not verify their own certification"
    )


# -- GetSupporterEligibility and ListEligibleSupporters ---------------------------------------


@pytest.mark.parametrize(
    ("who", "whom", "expected"),
    cases(
        ("supporter", "self", ALLOWED),
        ("supporter", "unsupervised supporter", HIDDEN),
        ("supervisor", "supervised supporter", ALLOWED),
        ("supervisor", "unsupervised supporter", HIDDEN),
        ("supervisor of another program", "supervised supporter", HIDDEN),
        ("coordinator", "unsupervised supporter", ALLOWED),
        ("coordinator", "supporter elsewhere", HIDDEN),
        ("admin", "supporter elsewhere", ALLOWED),
        ("admin without qualifications.read", "supervised supporter", DENIED),
        ("partner", "supervised supporter", ALLOWED),
        ("partner of another program", "supervised supporter", HIDDEN),
        ("partner without qualifications.read", "supervised supporter", DENIED),
        ("member", "supervised supporter", DENIED),
        ("clinician", "supervised supporter", DENIED),
        # A clinic colleague's person, not their qualifications.
        ("clinician with qualifications.read", "clinic colleague", HIDDEN),
        ("clinician with qualifications.read", "self", ALLOWED),
    ),
)
def test_read_eligibility(who: str, whom: str, expected: Verdict) -> None:
    assert verdict(rules.read_eligibility, who, whom) is expected


@pytest.mark.parametrize(
    ("who", "asked", "expected", "narrowed_to"),
    [
        pytest.param(c, a, v, n, id=f"{c} lists {a}: {v}")
        for c, a, v, n in [
            ("admin", "every program", ALLOWED, "every program"),
            ("admin", "another program", ALLOWED, "another program"),
            ("coordinator", "every program", ALLOWED, "own program"),
            ("coordinator", "own program", ALLOWED, "own program"),
            ("coordinator", "another program", DENIED, "another program"),
            ("supervisor", "every program", ALLOWED, "own program"),
            ("partner", "every program", ALLOWED, "own program"),
            ("partner", "another program", DENIED, "another program"),
            ("coordinator of no program", "every program", DENIED, "every program"),
            ("supporter", "own program", DENIED, "own program"),
            ("member", "own program", DENIED, "own program"),
            ("admin without qualifications.read", "every program", DENIED, "every program"),
        ]
    ],
)
def test_list_eligible(who: str, asked: str, expected: Verdict, narrowed_to: str) -> None:
    programs = {"every program": None, "own program": PROGRAM, "another program": OTHER_PROGRAM}
    asked_for, narrowed = programs[asked], programs[narrowed_to]

    listing = rules.list_eligible(CALLERS[who], str(asked_for) if asked_for else None)

    assert listing.decision.verdict is expected
    assert listing.organization_id == (str(narrowed) if narrowed else None)


# -- a partner client is never a person ---------------------------------------------------------


def test_a_partner_clients_subject_is_never_a_person() -> None:
    client = CALLERS["partner"]
    # A person whose id happens to be the client's id.
    namesake = PersonFacts(CLIENT_ID, frozenset({Role.PEER_SUPPORTER}), PROGRAM)

    assert not rules.is_self(client, CLIENT_ID)
    assert rules.read_person(client, namesake).verdict is HIDDEN
    assert rules.set_password(client, namesake).verdict is HIDDEN
    assert rules.record_certification(client, namesake).verdict is HIDDEN
    assert rules.change_roles(client, CLIENT_ID) == rules.deny("administrators only")
    assert rules.purpose(client, CLIENT_ID, qualifications=False) is PurposeOfUse.COC


def test_a_person_is_themselves() -> None:
    member = CALLERS["member"]

    assert rules.is_self(member, UUID(member.subject))
    assert not rules.is_self(member, uuid4())


# -- purpose of use ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "about", "qualifications", "expected"),
    [
        pytest.param(c, a, q, p, id=f"{c} about {a}{' (qualifications)' if q else ''}: {p}")
        for c, a, q, p in [
            ("member", "self", False, PurposeOfUse.PATRQT),
            ("supporter", "self", True, PurposeOfUse.PATRQT),
            ("admin", "self", False, PurposeOfUse.PATRQT),
            ("admin", "member here", False, PurposeOfUse.HSYSADMIN),
            ("admin", "supervised supporter", True, PurposeOfUse.HSYSADMIN),
            ("admin", "nobody yet", False, PurposeOfUse.HSYSADMIN),
            ("coordinator", "member here", False, PurposeOfUse.COC),
            ("coordinator", "supervised supporter", True, PurposeOfUse.HOPERAT),
            ("coordinator", "nobody yet", False, PurposeOfUse.COC),
            ("supervisor", "supervised supporter", True, PurposeOfUse.HOPERAT),
            ("clinician", "clinic colleague", False, PurposeOfUse.COC),
            ("partner", "supervised supporter", True, PurposeOfUse.HOPERAT),
        ]
    ],
)
def test_purpose_of_use(who: str, about: str, qualifications: bool, expected: PurposeOfUse) -> None:
    subject = None if about == "nobody yet" else target(who, about).person_id

    assert rules.purpose(CALLERS[who], subject, qualifications=qualifications) is expected


def test_the_accesses_carry_their_purpose() -> None:
    coordinator = CALLERS["coordinator"]
    supporter = TARGETS["supervised supporter"].person_id
    created = uuid4()

    person = rules.about_person(coordinator, "person.register", None)
    training = rules.about_qualifications(
        coordinator, "training.record", "training_record", None, supporter
    )

    assert person == rules.Access("person.register", "person", None, None, PurposeOfUse.COC)
    assert person.on(created, created).resource_id == str(created)
    assert person.on(created, created).subject_id == str(created)
    assert training.subject_id == str(supporter)
    assert training.purpose is PurposeOfUse.HOPERAT
    assert rules.administration("client.register", "client").purpose is PurposeOfUse.HSYSADMIN
    assert training.because(rules.allow("coordinator")).reason == "coordinator"


# -- from verdict to answer ----------------------------------------------------------------------


def test_enforce_lets_an_allowed_access_pass() -> None:
    access = rules.about_person(CALLERS["admin"], "person.read", uuid4())

    enforce(rules.allow("administrator"), access)


def test_hidden_answers_as_if_absent_and_denied_says_why() -> None:
    person_id = uuid4()
    access = rules.about_person(CALLERS["member"], "person.read", person_id)
    absent = NotFound(f"person {person_id} not found")

    with pytest.raises(Denied) as hidden:
        enforce(rules.hide("not visible to the caller"), access, absent)
    with pytest.raises(Denied) as denied:
        enforce(rules.deny("may not change this profile"), access, absent)

    assert hidden.value.error is absent
    assert hidden.value.access == replace(access, reason="not visible to the caller")
    assert isinstance(denied.value.error, PermissionDenied)
    assert denied.value.error.message == "may not change this profile"
    assert denied.value.access.reason == "may not change this profile"
