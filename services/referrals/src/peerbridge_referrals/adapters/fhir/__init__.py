"""The FHIR R4 view of a referral for EHRs (HL7 Gravity: a Task and its ServiceRequest)."""
