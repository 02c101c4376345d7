"""The resident record beyond the admission profile: demographics, identifiers (encrypted at
rest), contacts, ICD-10 diagnoses, allergies, medications and the GB/T 42195-2022 ability
assessment (issue 17)."""
