"""From intent and slots to a device call: plan it (no side effects), then carry it out on the DeviceBank."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Any

from edge.devices.bank import Device, DeviceBank
from edge.understanding.slots import Slots, align_intent

__all__ = ["Outcome", "Plan", "align_intent", "execute", "plan_action"]

log = logging.getLogger(__name__)

_DIM_FLOOR_PERCENT = 5  # dimming stops here rather than switching the light off


@dataclass(frozen=True)
class Plan:
    """What an intent would do: the device, its target level, and a description for people."""

    intent: str
    device: str | None
    description: str
    level_percent: int | None = None  # None: nothing to change (status query, cancel, already there)
    switch_on: bool = False  # "on" returns a dimmer to its last level, which only the device knows
    problem: str | None = None  # set when the intent cannot be carried out
    steps: tuple[Plan, ...] = ()  # one plan per device when the command names several

    @property
    def devices(self) -> tuple[str, ...]:
        """Every device this plan changes."""
        if self.steps:
            return tuple(d for step in self.steps for d in step.devices)
        changes = self.switch_on or self.level_percent is not None
        return (self.device,) if self.device and changes and not self.problem else ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready plan."""
        data: dict[str, Any] = {"device": self.device, "description": self.description}
        if self.steps:
            data["devices"] = list(self.devices)
        if self.level_percent is not None:
            data["level_percent"] = self.level_percent
        if self.problem:
            data["problem"] = self.problem
        return data


@dataclass(frozen=True)
class Outcome:
    """What was done, with the states afterwards."""

    description: str
    state: dict[str, Any] = field(default_factory=dict)


def plan_action(intent: str, slots: Slots, bank: DeviceBank) -> Plan:
    """Work out what ``intent`` with ``slots`` would do to the devices, without doing it."""
    if intent == "stop_cancel":
        return Plan(intent, None, "cancelled, nothing changed")
    if intent == "status_query":
        if slots.problem:
            return Plan(intent, None, "nothing", problem=slots.problem)
        names = list(slots.devices) or ([slots.device] if slots.device else list(bank))
        return Plan(intent, slots.device, "; ".join(_state_text(bank[name]) for name in names))
    if len(slots.devices) > 1 and not slots.problem:
        return _plan_several(intent, slots, bank)
    if slots.problem or slots.device is None:
        return Plan(intent, None, "nothing", problem=slots.problem or "no device")
    return _plan_one(intent, slots, bank[slots.device])


def _plan_several(intent: str, slots: Slots, bank: DeviceBank) -> Plan:
    """One step per device; devices that cannot do it are named in the description, the rest act."""
    steps: list[Plan] = []
    skipped: list[str] = []
    for name in slots.devices:
        device = bank[name]
        step = _plan_one(align_intent(intent, device.kind), replace(slots, device=name), device)
        if step.problem:
            skipped.append(step.problem)
        else:
            steps.append(step)
    if not steps:
        return Plan(intent, None, "nothing", problem="; ".join(skipped))
    description = "; ".join([step.description for step in steps] + skipped)
    return Plan(intent, None, description, steps=tuple(steps))


def _plan_one(intent: str, slots: Slots, device: Device) -> Plan:
    if intent.endswith("_on"):
        if device.is_on:
            return Plan(intent, device.name, f"{_state_text(device)} already")
        return Plan(intent, device.name, f"{device.name} on", switch_on=True)
    target, problem = _target(intent, slots, device)
    if problem:
        return Plan(intent, device.name, "nothing", problem=problem)
    assert target is not None  # _target returns a level whenever it reports no problem
    if target == device.level_percent:
        return Plan(intent, device.name, f"{_state_text(device)} already")
    return Plan(intent, device.name, _change_text(device, target), target)


def _target(intent: str, slots: Slots, device: Device) -> tuple[int | None, str | None]:
    step = device.config.step_percent
    current = device.level_percent
    if intent.endswith("_off"):
        return 0, None
    if intent in ("light_brighter", "fan_faster"):
        return (min(current + step, 100) if device.pwm else 100), None
    if intent in ("light_dimmer", "fan_slower"):
        if not device.pwm:
            return (
                None,
                f"{device.name} is on/off only; it cannot go {'dimmer' if device.kind == 'light' else 'slower'}",
            )
        if current == 0:
            return 0, None
        return max(current - step, _DIM_FLOOR_PERCENT), None
    if slots.percent is None:
        return None, f"no level heard for {device.name}"
    if not device.pwm and slots.percent not in (0, 100):
        # An on/off device does the nearest thing it can and says so in the description.
        return (100 if slots.percent else 0), None
    return slots.percent, None


def _state_text(device: Device) -> str:
    if not device.is_on:
        return f"{device.name} off"
    return f"{device.name} on {device.level_percent} %" if device.pwm else f"{device.name} on"


def _change_text(device: Device, target: int) -> str:
    if target == 0:
        return f"{device.name} off"
    return f"{device.name} {target} %" if device.pwm else f"{device.name} on"


def execute(plan: Plan, bank: DeviceBank) -> Outcome:
    """Carry out a plan; DeviceError propagates (the pipeline reports it as a stage error)."""
    if plan.problem:
        raise ValueError(f"cannot execute a plan with a problem: {plan.problem}")
    if plan.steps:
        for step in plan.steps:
            execute(step, bank)
        return Outcome(plan.description, {name: bank[name].state() for name in plan.devices})
    if plan.device and plan.switch_on:
        bank[plan.device].set_on()
        log.info("action: %s", plan.description)
    elif plan.device and plan.level_percent is not None:
        bank[plan.device].set_level(plan.level_percent)
        log.info("action: %s", plan.description)
    if plan.intent == "status_query" and not plan.device:
        return Outcome(plan.description, bank.states())
    return Outcome(plan.description, bank[plan.device].state() if plan.device else {})
