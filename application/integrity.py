"""`verify`: walk agents' hash chains and name what was changed behind the store's back.

Reads stored rows only (no decryption, no folding), so it runs with the integrity key alone
and costs one pass over the events and their index rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ctxstore.application.chain import EventChain, Finding, walk
from ctxstore.application.chain_port import ChainIndex


@dataclass
class VerifyReport:
    agents: int = 0
    events: int = 0
    findings: list[Finding] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # asked for, not in the catalogue

    @property
    def clean(self) -> bool:
        return not self.findings and not self.unknown


class IntegrityService:
    def __init__(self, index: ChainIndex, chain: EventChain):
        self.index = index
        self.chain = chain

    def verify(self, agent_ids: list[str] | None = None) -> VerifyReport:
        """Walk the chains of those agents (by key; None: every agent in the catalogue)."""
        report = VerifyReport()
        heads = self.index.chain_heads(agent_ids)
        if agent_ids is not None:
            known = {h.agent_id for h in heads}
            report.unknown = [a for a in agent_ids if a not in known]
        for head in heads:
            rows = list(self.index.chain_rows(head.originator_id))
            report.agents += 1
            report.events += sum(1 for r in rows if r.state is not None)
            report.findings += walk(self.chain, head.agent_id, head.originator_id, rows,
                                    (head.version, head.link))
        return report
