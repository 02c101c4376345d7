"""Green-channel referrals from the care setting to a partner hospital and back: the pure state
machine (`workflow`), its errors, and the FHIR R4 export (`fhir`). No I/O here."""
