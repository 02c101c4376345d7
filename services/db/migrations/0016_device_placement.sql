-- Issue 16: where a device is worn is a fact of the device, declared at provisioning. The fall
-- detector uses placement-specific settings, and none at all for a bed sensor. NULL: not
-- declared (devices provisioned before this; the detector then uses its general settings).
ALTER TABLE devices ADD COLUMN placement text
    CHECK (placement IN ('wrist', 'waist', 'chest', 'pendant', 'bed'));
GRANT SELECT (device_id, placement) ON devices TO carewatch_detector;
