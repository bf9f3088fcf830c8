"""The use cases with their dependencies bound: what every entry point calls."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from peerbridge_platform.auth.context import require_principal

from ..domain.commands import CreateReferral, RecordConsent, RevokeConsent, UpdateReferralStatus
from ..domain.consent import Consent
from ..domain.emergency import EmergencyDisclosure
from ..domain.model import Referral
from ..domain.notes import AddReferralNote, Note
from ..domain.read_gate import GatedRead
from . import consent_handlers, disclosure_handlers, emergency_handlers, handlers, notes_handlers
from .audit import DeniedAccessLog
from .pagination import PageLimits
from .queries import (
    ConsentPage,
    DisclosurePage,
    GetConsent,
    GetReferral,
    ListConsents,
    ListDisclosures,
    ListReferrals,
    ReferralPage,
)
from .unit_of_work import UnitOfWork


@dataclass(frozen=True)
class ReferralsApplication:
    """Each call gets a fresh unit of work, so concurrent calls never share a transaction.

    The caller is the verified principal of the current call (set by the
    authentication interceptor), never anyone named in the request.
    """

    uow_factory: Callable[[], UnitOfWork]
    denials: DeniedAccessLog
    clock: handlers.Clock
    new_id: handlers.IdFactory
    page_limits: PageLimits

    async def create_referral(self, command: CreateReferral) -> Referral:
        return await handlers.create_referral(
            command,
            self.uow_factory(),
            caller=require_principal(),
            denials=self.denials,
            clock=self.clock,
            new_id=self.new_id,
        )

    async def read_referral(self, query: GetReferral) -> GatedRead:
        return await handlers.read_referral(
            query,
            self.uow_factory(),
            caller=require_principal(),
            denials=self.denials,
            clock=self.clock,
        )

    async def list_referrals(self, query: ListReferrals) -> ReferralPage:
        return await handlers.list_referrals(
            query,
            self.uow_factory(),
            caller=require_principal(),
            denials=self.denials,
            limits=self.page_limits,
            clock=self.clock,
        )

    async def update_referral_status(self, command: UpdateReferralStatus) -> GatedRead:
        return await handlers.update_referral_status(
            command,
            self.uow_factory(),
            caller=require_principal(),
            denials=self.denials,
            clock=self.clock,
        )

    async def record_consent(self, command: RecordConsent) -> Consent:
        return await consent_handlers.record_consent(
            command,
            self.uow_factory(),
            caller=require_principal(),
            denials=self.denials,
            clock=self.clock,
            new_id=self.new_id,
        )

    async def revoke_consent(self, command: RevokeConsent) -> Consent:
        return await consent_handlers.revoke_consent(
            command,
            self.uow_factory(),
            caller=require_principal(),
            denials=self.denials,
            clock=self.clock,
        )

    async def get_consent(self, query: GetConsent) -> Consent:
        return await consent_handlers.get_consent(
            query, self.uow_factory(), caller=require_principal(), denials=self.denials
        )

    async def list_consents(self, query: ListConsents) -> ConsentPage:
        return await consent_handlers.list_consents(
            query,
            self.uow_factory(),
            caller=require_principal(),
            denials=self.denials,
            limits=self.page_limits,
        )

    async def list_disclosures(self, query: ListDisclosures) -> DisclosurePage:
        return await disclosure_handlers.list_disclosures(
            query,
            self.uow_factory(),
            caller=require_principal(),
            denials=self.denials,
            limits=self.page_limits,
        )

    async def add_referral_note(self, command: AddReferralNote) -> Note:
        return await notes_handlers.add_referral_note(
            command,
            self.uow_factory(),
            caller=require_principal(),
            denials=self.denials,
            clock=self.clock,
            new_id=self.new_id,
        )

    async def list_referral_notes(
        self, query: notes_handlers.ListReferralNotes
    ) -> notes_handlers.NotePage:
        return await notes_handlers.list_referral_notes(
            query,
            self.uow_factory(),
            caller=require_principal(),
            denials=self.denials,
            clock=self.clock,
            limits=self.page_limits,
        )

    async def disclose_for_emergency(
        self, command: emergency_handlers.DiscloseForEmergency
    ) -> emergency_handlers.EmergencyAccess:
        return await emergency_handlers.disclose_for_emergency(
            command,
            self.uow_factory(),
            caller=require_principal(),
            denials=self.denials,
            clock=self.clock,
            new_id=self.new_id,
        )

    async def list_emergency_disclosures(
        self, query: emergency_handlers.ListEmergencyDisclosures
    ) -> emergency_handlers.EmergencyDisclosurePage:
        return await emergency_handlers.list_emergency_disclosures(
            query,
            self.uow_factory(),
            caller=require_principal(),
            denials=self.denials,
            limits=self.page_limits,
        )

    async def review_emergency_disclosure(
        self, command: emergency_handlers.ReviewEmergencyDisclosure
    ) -> EmergencyDisclosure:
        return await emergency_handlers.review_emergency_disclosure(
            command,
            self.uow_factory(),
            caller=require_principal(),
            denials=self.denials,
            clock=self.clock,
        )
