-- Device alerts name the device at fault by its kind (wristband, bed sensor): the alert
-- service reads each device's kind, nothing else of the devices table.
GRANT SELECT (device_id, kind) ON devices TO carewatch_alerts;
