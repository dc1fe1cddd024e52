"""The sandbox policy: topics and instructions the organisation blocks (refused with 403, nothing sent
to any model), and a prompt-injection detector that flags, never drops, instructions hidden in data.

The detector reads user and tool messages (where pasted emails, documents and tool results arrive),
not the system prompt (the learner's own instructions). It is a set of named patterns for the common
shapes of injection: a flag means "look at this", not proof; the request still goes through, and the
flag appears in the response and in the usage row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..settings import Policy
from .errors import APIError

_I = re.I | re.M
INJECTION_PATTERNS = {
    "ignore_instructions": re.compile(
        r"\b(?:ignore|disregard|forget|override|bypass)\b[^.\n]{0,40}?\b(?:previous|prior|above|earlier|preceding|"
        r"all|any|your|system|original)\b[^.\n]{0,25}?\b(?:instructions?|prompts?|rules|guidelines|directions|"
        r"directives|context)\b", _I),
    "new_instructions": re.compile(
        r"\b(?:new|updated|real|actual|revised|additional)\s+(?:system\s+)?(?:instructions?|task|prompt|orders)\s*:",
        _I),
    "role_override": re.compile(
        r"\byou are now\b|\bfrom now on,? you\b|\bpretend (?:to be|you are)\b|\bact as (?:an? )?(?:unrestricted|"
        r"unfiltered|jailbroken|different)\b|\bdeveloper mode\b", _I),
    "reveal_secrets": re.compile(
        r"\b(?:reveal|print|show|repeat|output|leak|disclose)\b[^.\n]{0,30}?\b(?:system prompt|your (?:instructions|"
        r"prompt|rules)|hidden (?:prompt|instructions)|api[ _-]?keys?|passwords?|credentials)\b", _I),
    "chat_markup": re.compile(
        r"<\|im_start\|>|<\|(?:system|assistant)\|>|\[/?INST\]|<<SYS>>|^\s*#{2,}\s*(?:system|instruction)s?\b|"
        r"^\s*(?:system|assistant)\s*:", _I),
    "exfiltrate": re.compile(
        r"\b(?:send|forward|email|post|upload|transfer)\b[^.\n]{0,60}?\b(?:to|at)\b\s*(?:https?://|\S+@\S+\.\w+)", _I),
    "conceal": re.compile(
        r"\b(?:do not|don't|never)\s+(?:tell|inform|mention|reveal|alert|notify)\b[^.\n]{0,30}?\b(?:user|customer|"
        r"human|anyone|agent|staff)\b", _I),
}

# Words each pattern cannot match without (lower case): a substring test skips most regex searches.
_NEEDS = {
    "ignore_instructions": ("ignore", "disregard", "forget", "override", "bypass"),
    "new_instructions": ("instruction", "task", "prompt", "orders"),
    "role_override": ("you are now", "from now on", "pretend", "act as", "developer mode"),
    "reveal_secrets": ("reveal", "print", "show", "repeat", "output", "leak", "disclose"),
    "chat_markup": ("<|", "inst]", "<<sys>>", "#", "system", "assistant"),
    "exfiltrate": ("@", "http"),
    "conceal": ("tell", "inform", "mention", "reveal", "alert", "notify"),
}


@dataclass(frozen=True)
class Flag:
    kind: str  # "prompt_injection"
    rule: str
    message_index: int
    role: str
    excerpt: str

    def as_dict(self) -> dict:
        return {"type": self.kind, "rule": self.rule, "message_index": self.message_index, "role": self.role,
                "excerpt": self.excerpt}


class PolicyCheck:
    def __init__(self, cfg: Policy):
        self.cfg = cfg
        self.blocked = [(rule, [re.compile(p, re.I) for p in rule.patterns]) for rule in cfg.blocked]

    def check_blocked(self, texts: list[str]) -> None:
        """Raise 403 if any text matches a blocked rule; the message names the rule, never the text."""
        for rule, patterns in self.blocked:
            if any(p.search(t) for p in patterns for t in texts):
                raise APIError(403, f"Blocked by the sandbox policy (rule '{rule.name}'): {rule.message} Nothing "
                                    "was sent to any model. If this is a mistake, ask your instructor (the rules are "
                                    "in adoptkit.gateway.policy.blocked).",
                               code="blocked_by_policy", outcome="blocked")

    def injection_flags(self, messages: list[tuple[int, str, str]]) -> list[Flag]:
        """Flags for (index, role, text) of each message; user and tool messages only."""
        if not self.cfg.detect_injection:
            return []
        flags = []
        for index, role, text in messages:
            if role not in ("user", "tool", "function"):
                continue
            low = text.lower()
            for rule, rx in INJECTION_PATTERNS.items():
                if any(word in low for word in _NEEDS[rule]) and (m := rx.search(text)):
                    flags.append(Flag("prompt_injection", rule, index, role, m.group(0).strip()[:80]))
        return flags
