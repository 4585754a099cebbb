"""Customer Insights API v1 simulator (dev and tests only).

    from dev.cisim import CISimulator, SAMPLE_INSTANCE_ID
    with CISimulator(port=0) as sim:
        env = sim.settings_env()          # CI_* app settings pointing at the simulator
        sim.control.set_segment_count("HighValueCustomers", 120)

See README.md in this folder for the endpoints and the control API.
"""
from .client import ApiClient, SimulatorControl, SimulatorControlError
from .sample import SAMPLE_INSTANCE_ID
from .simulator import CISimulator

__all__ = ["ApiClient", "CISimulator", "SAMPLE_INSTANCE_ID", "SimulatorControl", "SimulatorControlError"]
