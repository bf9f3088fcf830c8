"""Adapters: storage, outbox and the FHIR view, behind the service layer's ports."""
