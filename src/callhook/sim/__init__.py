"""Synthetic calls for demos, tests and load: profiles, planned calls, the simulation runner.

Not imported by the rest of the library; ``callhook simulate`` and ``callhook demo`` use it.
"""

from callhook.sim._clock import ScaledScheduler
from callhook.sim._corpus import SCENARIOS, Dialogue, Scenario, pick_dialogue
from callhook.sim._demo import demo_profile, run_demo, running_server
from callhook.sim._driver import DELIVERY_TIMEOUT_S, CallDriver, build_assistant, delivery_server
from callhook.sim._formats import RetellRenderer, SimFormat, VapiRenderer
from callhook.sim._plan import CallPlan, TurnPlan, plan_call
from callhook.sim._platform_send import PlatformSender
from callhook.sim._profile import (
    DEFAULT_PROFILE,
    AssistantProfile,
    CallShape,
    Latency,
    LatencyProfile,
    Profile,
    ProfileError,
    Rates,
    load_profile,
)
from callhook.sim._runner import CountingSink, SimulationReport, plan_calls, run_simulation
from callhook.sim._simulate import SimulationResult, simulate
from callhook.sim._summary import summary_table

__all__ = [
    "DEFAULT_PROFILE",
    "DELIVERY_TIMEOUT_S",
    "SCENARIOS",
    "AssistantProfile",
    "CallDriver",
    "CallPlan",
    "CallShape",
    "CountingSink",
    "Dialogue",
    "Latency",
    "LatencyProfile",
    "PlatformSender",
    "Profile",
    "ProfileError",
    "Rates",
    "RetellRenderer",
    "ScaledScheduler",
    "Scenario",
    "SimFormat",
    "SimulationReport",
    "SimulationResult",
    "TurnPlan",
    "VapiRenderer",
    "build_assistant",
    "delivery_server",
    "demo_profile",
    "load_profile",
    "pick_dialogue",
    "plan_call",
    "plan_calls",
    "run_demo",
    "run_simulation",
    "running_server",
    "simulate",
    "summary_table",
]
