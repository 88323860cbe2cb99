"""A built-in corpus of healthcare front-desk dialogue for synthetic calls.

Each scenario is a list of exchanges (what the user says, what the assistant answers) with
``{placeholders}`` filled from small vocabularies by a seeded RNG, so the same seed gives the
same words.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["SCENARIOS", "Dialogue", "Scenario", "pick_dialogue"]


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    #: (user says, assistant answers); alternatives separated by " | ".
    exchanges: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Dialogue:
    scenario: str
    #: (user text, assistant text) per turn, placeholders filled.
    turns: tuple[tuple[str, str], ...]
    #: Filled values, for structured data (``Name``, ``phone number``, ...).
    facts: dict[str, str]


_VOCABULARY: dict[str, tuple[str, ...]] = {
    "first": (
        "Maria",
        "James",
        "Priya",
        "Chen",
        "Fatima",
        "Lucas",
        "Aisha",
        "Tom",
        "Elena",
        "Ravi",
    ),
    "last": ("Garcia", "Okafor", "Nguyen", "Smith", "Patel", "Kowalski", "Haddad", "Rossi", "Kim"),
    "day": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "next Monday", "tomorrow"),
    "time": ("9 AM", "10:30", "11 in the morning", "1 PM", "2:15", "3:30 PM", "4 o'clock"),
    "doctor": ("Dr. Sam", "Dr. Lee", "Dr. Alvarez", "Dr. Mensah", "Dr. Brooks"),
    "reason": (
        "a knee check-up",
        "back pain",
        "a follow-up on my blood work",
        "a cleaning",
        "my annual physical",
        "a rash that won't go away",
        "headaches",
    ),
    "insurer": ("Blue Cross", "Aetna", "Cigna", "UnitedHealthcare", "Kaiser", "Medicare"),
    "drug": (
        "lisinopril",
        "metformin",
        "atorvastatin",
        "levothyroxine",
        "amoxicillin",
        "albuterol",
    ),
    "phone": ("770 625 8801", "404 555 0134", "312 555 0199", "646 555 0172", "213 555 0148"),
    "street": ("North Face Place", "Elm Street", "Harbor Drive", "5th Avenue", "Maple Court"),
}

SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "booking",
        (
            (
                "Hi, I'd like to book an appointment. | Can I schedule a visit please?",
                "Of course! Could I have your full name, please?",
            ),
            (
                "It's {first} {last}. | My name is {first} {last}.",
                "Thanks, {first}. What is the best phone number to reach you?",
            ),
            (
                "You can reach me at {phone}. | It's {phone}.",
                "Got it. What is the reason for your visit?",
            ),
            (
                "I need {reason}. | It's for {reason}.",
                "I can help with that. {doctor} has openings on {day}. What time works for you?",
            ),
            (
                "{day} at {time} would be great. | Maybe around {time}?",
                "You're booked with {doctor} on {day} at {time}. "
                "Is there anything else I can help with?",
            ),
        ),
    ),
    Scenario(
        "rescheduling",
        (
            (
                "I need to move my appointment. | Can I reschedule my visit?",
                "Sure, may I have your name and date of birth?",
            ),
            (
                "{first} {last}, born March 4th 1986. | It's {first} {last}.",
                "I see your visit with {doctor}. When would you like to come in instead?",
            ),
            (
                "Do you have anything on {day}? | How about {day}?",
                "{day} at {time} is open. Shall I move you there?",
            ),
            (
                "Yes please, that works. | Perfect, let's do that.",
                "Done. Your appointment is now {day} at {time}. Anything else?",
            ),
        ),
    ),
    Scenario(
        "insurance",
        (
            (
                "Do you take {insurer}? | I want to check if my insurance is accepted.",
                "We accept most major plans. Which insurance do you have?",
            ),
            (
                "I have {insurer}. | It's {insurer}, a PPO plan.",
                "Yes, we are in network with {insurer}. Would you like to update it on your file?",
            ),
            (
                "Yes, my member ID ends in 4471. | Sure, please add it.",
                "Thank you, I've noted that. Your copay will be confirmed at check-in.",
            ),
        ),
    ),
    Scenario(
        "prescriptions",
        (
            (
                "I need a refill of my {drug}. | Can you refill my {drug} prescription?",
                "I can send a refill request. What is your full name?",
            ),
            ("{first} {last}. | It's {first} {last}.", "Which pharmacy should we send it to?"),
            (
                "The one on {street}. | Same pharmacy as last time, on {street}.",
                "I've sent the request for {drug} to the pharmacy on {street}. "
                "It's usually ready within a day.",
            ),
        ),
    ),
    Scenario(
        "directions",
        (
            (
                "Where exactly is the clinic? | How do I get to your office?",
                "We're at 123 {street}, next to the public library.",
            ),
            (
                "Is there parking? | Can I park nearby?",
                "Yes, free parking is behind the building, and there's street parking on {street}.",
            ),
            (
                "What are your hours? | When are you open?",
                "We're open 8 AM to 5 PM daily, and closed on Sundays.",
            ),
        ),
    ),
)

_FILLERS = ("Sorry, could you repeat that?", "Hmm, let me think.", "Okay.", "Right.")


def pick_dialogue(rng: random.Random, turns: int) -> Dialogue:
    """A dialogue of ``turns`` exchanges: a scenario, then small talk if it is too short."""
    scenario = rng.choice(SCENARIOS)
    facts = {key: rng.choice(values) for key, values in _VOCABULARY.items()}
    exchanges = list(scenario.exchanges[:turns])
    while len(exchanges) < turns:
        exchanges.append(
            (rng.choice(_FILLERS), "No problem. Is there anything else I can help with?")
        )
    filled = tuple(
        (_fill(rng.choice(user.split(" | ")), facts), _fill(bot, facts)) for user, bot in exchanges
    )
    known = {"Name": f"{facts['first']} {facts['last']}", "phone number": facts["phone"]}
    return Dialogue(scenario=scenario.name, turns=filled, facts=known)


def _fill(template: str, facts: dict[str, str]) -> str:
    return template.format(**facts)
