"""`python -m device_sim [OPTIONS]`: `carewatch sim`, as `carewatch up` starts it."""

from device_sim.cli.sim import sim_app

sim_app()
