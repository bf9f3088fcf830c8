"""Handlers for organizations and their partner clients."""

from __future__ import annotations

from uuid import UUID

from peerbridge_platform.logging import get_logger

from ..domain import access_rules as rules
from ..domain.commands import RegisterClient, RegisterOrganization
from ..domain.events import ClientRegistered, OrganizationRegistered
from ..domain.model import Client, Organization
from ..domain.organization_rules import validate_new_client, validate_new_organization
from .access import audit, authorize, caller
from .context import HandlerContext
from .idempotency import create_once
from .lookups import existing_organization
from .unit_of_work import UnitOfWork

log = get_logger(__name__)


async def _load_organization(uow: UnitOfWork, organization_id: UUID) -> Organization | None:
    return await uow.organizations.get(organization_id)


async def _load_client(uow: UnitOfWork, client_id: UUID) -> Client | None:
    return await uow.clients.get(client_id)


async def register_organization(
    command: RegisterOrganization, uow: UnitOfWork, context: HandlerContext
) -> Organization:
    access = rules.administration("organization.register", "organization")
    decision = await authorize(uow, rules.administer(caller()), access)
    request_id, details = validate_new_organization(command)

    async def create(uow: UnitOfWork) -> tuple[Organization, UUID]:
        organization = Organization(
            organization_id=context.new_id(),
            kind=details.kind,
            name=details.name,
            program_settings=details.program_settings,
            create_time=context.now(),
        )
        await uow.organizations.add(organization)
        await uow.publish(OrganizationRegistered(organization))
        await audit(uow, access.on(organization.organization_id), decision)
        return organization, organization.organization_id

    organization, created = await create_once(
        uow,
        operation="register_organization",
        request_id=request_id,
        details=details,
        load=_load_organization,
        create=create,
    )
    if created:
        log.info(
            "organization registered",
            organization_id=str(organization.organization_id),
            kind=organization.kind.value,
        )
    return organization


async def register_client(
    command: RegisterClient, uow: UnitOfWork, context: HandlerContext
) -> Client:
    access = rules.administration("client.register", "client")
    decision = await authorize(uow, rules.administer(caller()), access)
    request_id, details = validate_new_client(command)

    async def create(uow: UnitOfWork) -> tuple[Client, UUID]:
        await existing_organization(uow, details.organization_id)
        client = Client(
            client_id=context.new_id(),
            organization_id=details.organization_id,
            kind=details.kind,
            display_name=details.display_name,
            scopes=details.scopes,
            create_time=context.now(),
        )
        await uow.clients.add(client)
        await uow.publish(ClientRegistered(client))
        await audit(uow, access.on(client.client_id), decision)
        return client, client.client_id

    client, created = await create_once(
        uow,
        operation="register_client",
        request_id=request_id,
        details=details,
        load=_load_client,
        create=create,
    )
    if created:
        log.info(
            "client registered",
            client_id=str(client.client_id),
            organization_id=str(client.organization_id),
            scopes=list(client.scopes),
        )
    return client
