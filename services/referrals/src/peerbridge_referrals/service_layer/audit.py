"""The audit port: what handlers record about each access to a referral, whatever the storage.

Allowed accesses are recorded by the unit of work inside the transaction of
the work (`UnitOfWork.record_access`); refusals by `DeniedAccessLog`, in a
transaction of their own, since a refused request writes nothing else.
Who and from where come from the call context, never from the request.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass

from peerbridge_platform.audit.model import PurposeOfUse

RESOURCE_TYPE = "referral"
CREATE = "referral.create"
READ = "referral.read"
LIST = "referral.list"
UPDATE_STATUS = "referral.update_status"
# The FHIR view of a referral sent to its recipient: full under a consent, or minimal.
DISCLOSE = "referral.disclose"
CONSENT = "consent"
CONSENT_RECORD = "consent.record"
CONSENT_REVOKE = "consent.revoke"
CONSENT_READ = "consent.read"
# A read of a member's accounting of disclosures: one record per page, with no resource id.
DISCLOSURE_LOG = "disclosure_log"
DISCLOSURE_LIST = "disclosure.list"


@dataclass(frozen=True)
class Access:
    """One audited access: `subject_member_id` is the member the record is about;
    `referral_id` the id of the record, a referral or (with `resource_type`) a consent."""

    action: str
    referral_id: str | None
    subject_member_id: str | None
    purpose: PurposeOfUse
    # Short and non-clinical: why it was refused, or what kind of access this was.
    reason: str | None = None
    resource_type: str = RESOURCE_TYPE


class DeniedAccessLog(abc.ABC):
    @abc.abstractmethod
    async def record_denied(self, access: Access) -> None:
        """Keep a refused attempt on record, committed whatever the request does next."""
