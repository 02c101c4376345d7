"""Device simulator: wearables and bed sensors that publish protocol v1 messages over MQTT."""
